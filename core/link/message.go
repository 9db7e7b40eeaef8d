package link

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Message is one entry of a link: Seq is link-local (1-based, gapless, in the
// order the sending region wrote it), Kind says what the receiving region does
// with it (a ledger checkpoint, a hand-off, an owner command), ID names the
// thing it carries (a hand-off id) and Body is opaque to the link.
type Message struct {
	Seq  uint64 `json:"seq"`
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	Body []byte `json:"body,omitempty"`
}

// Outbox is the sending region's durable queue of messages for one link.
type Outbox interface {
	// Pending returns up to max messages with a seq above after, in seq
	// order, starting at after+1 when the outbox still holds it.
	Pending(after uint64, max int) []Message
}

// Acker is implemented by an Outbox that wants to know how far the receiver
// has applied, to drop what it no longer needs to retransmit. Acked is called
// with each through that is higher than the last one reported.
type Acker interface {
	Acked(through uint64)
}

// Inbox is the receiving region's durable state of the links into it.
type Inbox interface {
	// Deliver applies msgs from region from, in order and idempotently: a
	// message at or below what the inbox already applied from that region is
	// a no-op, and a message after a gap (a seq above through+1) is not
	// applied, nor is anything after it. It returns the highest seq applied
	// from that region, also when msgs is empty (a sender's probe), and an
	// error only when it could not record what it applied.
	Deliver(ctx context.Context, from string, msgs []Message) (through uint64, err error)
}

// Batch is what a Transport carries from one region's link to another's
// inbox: the messages of one request, possibly none (a probe).
type Batch struct {
	From string
	To   string
	Msgs []Message
}

// Bounds of a batch and its fields, checked by both transports' receiving
// sides (and Config.Validate against the link's own limits).
const (
	// MaxNameBytes bounds a region name.
	MaxNameBytes = 64
	// MaxKindBytes bounds Message.Kind.
	MaxKindBytes = 128
	// MaxIDBytes bounds Message.ID.
	MaxIDBytes = 256
	// MaxBatchMessages bounds the messages of one batch.
	MaxBatchMessages = 4096
	// MaxBatchBytes bounds the encoded size of one batch.
	MaxBatchBytes = 8 << 20
)

// ErrBadBatch is wrapped by every refusal of a batch's content.
var ErrBadBatch = errors.New("link: bad batch")

// CheckName refuses a region name that is empty, too long or holds other
// than lower-case letters, digits, '-' and '_'. field names the field in the
// error.
func CheckName(field, name string) error {
	if name == "" {
		return fmt.Errorf("%w: %s: empty region name", ErrBadBatch, field)
	}
	if len(name) > MaxNameBytes {
		return fmt.Errorf("%w: %s: region name of %d bytes, at most %d", ErrBadBatch, field, len(name), MaxNameBytes)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return fmt.Errorf("%w: %s: region name %q holds %q; use a-z, 0-9, '-' and '_'", ErrBadBatch, field, name, c)
		}
	}
	return nil
}

// CheckBatch refuses a batch whose regions are not valid names, that is
// larger than MaxBatchMessages, or whose messages are not consecutive seqs
// from 1 up with a kind and bounded fields. The error names the field.
func CheckBatch(b Batch) error {
	if err := CheckName("from", b.From); err != nil {
		return err
	}
	if err := CheckName("to", b.To); err != nil {
		return err
	}
	if b.From == b.To {
		return fmt.Errorf("%w: to: region %q links to itself", ErrBadBatch, b.To)
	}
	if len(b.Msgs) > MaxBatchMessages {
		return fmt.Errorf("%w: msgs: %d messages, at most %d", ErrBadBatch, len(b.Msgs), MaxBatchMessages)
	}
	for i, m := range b.Msgs {
		if err := checkMessage(i, m); err != nil {
			return err
		}
		if i > 0 && m.Seq != b.Msgs[i-1].Seq+1 {
			return fmt.Errorf("%w: msgs[%d].seq: %d does not follow %d", ErrBadBatch, i, m.Seq, b.Msgs[i-1].Seq)
		}
	}
	return nil
}

func checkMessage(i int, m Message) error {
	switch {
	case m.Seq == 0:
		return fmt.Errorf("%w: msgs[%d].seq: 0; seqs start at 1", ErrBadBatch, i)
	case m.Kind == "":
		return fmt.Errorf("%w: msgs[%d].kind: empty", ErrBadBatch, i)
	case len(m.Kind) > MaxKindBytes:
		return fmt.Errorf("%w: msgs[%d].kind: %d bytes, at most %d", ErrBadBatch, i, len(m.Kind), MaxKindBytes)
	case !utf8.ValidString(m.Kind):
		return fmt.Errorf("%w: msgs[%d].kind: not UTF-8", ErrBadBatch, i)
	case len(m.ID) > MaxIDBytes:
		return fmt.Errorf("%w: msgs[%d].id: %d bytes, at most %d", ErrBadBatch, i, len(m.ID), MaxIDBytes)
	case !utf8.ValidString(m.ID):
		return fmt.Errorf("%w: msgs[%d].id: not UTF-8", ErrBadBatch, i)
	}
	return nil
}

// Fresh returns the messages of msgs an inbox at through has still to apply:
// those from through+1 on, up to the first gap. Inbox implementations call it
// so that a retransmitted or duplicated message is a no-op.
func Fresh(through uint64, msgs []Message) []Message {
	start := 0
	for start < len(msgs) && msgs[start].Seq <= through {
		start++
	}
	end := start
	next := through + 1
	for end < len(msgs) && msgs[end].Seq == next {
		end++
		next++
	}
	return msgs[start:end]
}

// size is the bytes a message takes in a batch, near enough for bounding.
func (m Message) size() int { return len(m.Kind) + len(m.ID) + len(m.Body) + 16 }

// clone copies a message's body, so a receiver never aliases the sender's
// memory.
func (m Message) clone() Message {
	if m.Body != nil {
		m.Body = append([]byte(nil), m.Body...)
	}
	return m
}
