package link

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"
)

// Store is one region's link state in a BoltDB file: an outbox per region it
// sends to and an inbox of the regions it receives from. It serves a region
// host that has no replicated outbox yet, and the tests, which reopen it to
// restart a side. Every write is one bolt transaction, so what Deliver
// applies and the through it answers are on disk together.
//
// The inbox's effect is its received log: each applied message is appended
// to its sender's log under the next log position, so a message applied
// twice would show there twice.
type Store struct {
	db     *bolt.DB
	logger hclog.Logger
	// dedupe picks what Deliver applies; Fresh, except in the test that
	// shows what its absence costs.
	dedupe func(through uint64, msgs []Message) []Message
}

var (
	bucketOut     = []byte("out")      // to -> {seq -> message}
	bucketOutNext = []byte("out-next") // to -> last seq appended
	bucketIn      = []byte("in")       // from -> {log position -> message}
	bucketThrough = []byte("through")  // from -> highest seq applied
)

// OpenStore opens (creating it if needed) the store at path.
func OpenStore(path string, logger hclog.Logger) (*Store, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("link: open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketOut, bucketOutNext, bucketIn, bucketThrough} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("link: open store %s: %w", path, err)
	}
	return &Store{db: db, logger: logger.Named("link-store"), dedupe: Fresh}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func num(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Append adds messages for region to at the end of its outbox, in one
// transaction, and returns them with the seqs they were given (the drafts'
// Seq is ignored).
func (s *Store) Append(to string, drafts ...Message) ([]Message, error) {
	if err := CheckName("to", to); err != nil {
		return nil, err
	}
	out := make([]Message, len(drafts))
	err := s.db.Update(func(tx *bolt.Tx) error {
		next := tx.Bucket(bucketOutNext)
		b, err := tx.Bucket(bucketOut).CreateBucketIfNotExists([]byte(to))
		if err != nil {
			return err
		}
		seq := num(next.Get([]byte(to)))
		for i, m := range drafts {
			seq++
			m.Seq = seq
			if err := checkMessage(i, m); err != nil {
				return err
			}
			if err := b.Put(key(seq), appendMessage(nil, m)); err != nil {
				return err
			}
			out[i] = m
		}
		return next.Put([]byte(to), key(seq))
	})
	if err != nil {
		return nil, fmt.Errorf("link: append to outbox %q: %w", to, err)
	}
	return out, nil
}

// Outbox returns the outbox of the link to region to.
func (s *Store) Outbox(to string) Outbox { return storeOutbox{s: s, to: to} }

type storeOutbox struct {
	s  *Store
	to string
}

// Pending reads up to max messages after seq after.
func (o storeOutbox) Pending(after uint64, max int) []Message {
	var msgs []Message
	err := o.s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOut).Bucket([]byte(o.to))
		if b == nil {
			return nil
		}
		var err error
		msgs, err = scan(b, after, max)
		return err
	})
	if err != nil {
		o.s.logger.Error("outbox unreadable", "to", o.to, "error", err)
		return nil
	}
	return msgs
}

// Acked drops the messages the receiver has applied.
func (o storeOutbox) Acked(through uint64) {
	err := o.s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOut).Bucket([]byte(o.to))
		if b == nil {
			return nil
		}
		var done [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil && num(k) <= through; k, _ = c.Next() {
			done = append(done, append([]byte(nil), k...))
		}
		for _, k := range done {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		o.s.logger.Error("outbox trim failed", "to", o.to, "through", through, "error", err)
	}
}

// scan reads up to max messages of b keyed above after.
func scan(b *bolt.Bucket, after uint64, max int) ([]Message, error) {
	var msgs []Message
	c := b.Cursor()
	for k, v := c.Seek(key(after + 1)); k != nil && len(msgs) < max; k, v = c.Next() {
		m, _, err := readMessage(v)
		if err != nil {
			return nil, fmt.Errorf("message at %d: %w", num(k), err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// Deliver applies the messages from region from that follow its through,
// appending them to from's received log, and returns the new through.
func (s *Store) Deliver(ctx context.Context, from string, msgs []Message) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// A probe or a retransmission of what is applied needs no write.
	through, err := s.Through(from)
	if err != nil {
		return 0, fmt.Errorf("link: deliver from %q: %w", from, err)
	}
	if len(s.dedupe(through, msgs)) == 0 {
		return through, nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		th := tx.Bucket(bucketThrough)
		through = num(th.Get([]byte(from)))
		fresh := s.dedupe(through, msgs)
		if len(fresh) == 0 {
			return nil
		}
		log, err := tx.Bucket(bucketIn).CreateBucketIfNotExists([]byte(from))
		if err != nil {
			return err
		}
		for _, m := range fresh {
			pos, err := log.NextSequence()
			if err != nil {
				return err
			}
			if err := log.Put(key(pos), appendMessage(nil, m)); err != nil {
				return err
			}
			through = max(through, m.Seq)
		}
		return th.Put([]byte(from), key(through))
	})
	if err != nil {
		return 0, fmt.Errorf("link: deliver from %q: %w", from, err)
	}
	return through, nil
}

// Through returns the highest seq applied from region from.
func (s *Store) Through(from string) (uint64, error) {
	var through uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		through = num(tx.Bucket(bucketThrough).Get([]byte(from)))
		return nil
	})
	return through, err
}

// Received returns up to max messages of from's received log after log
// position after, in the order they were applied.
func (s *Store) Received(from string, after uint64, max int) ([]Message, error) {
	var msgs []Message
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIn).Bucket([]byte(from))
		if b == nil {
			return nil
		}
		var err error
		msgs, err = scan(b, after, max)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("link: received log of %q: %w", from, err)
	}
	return msgs, nil
}

var (
	_ Inbox = (*Store)(nil)
	_ Acker = storeOutbox{}
)
