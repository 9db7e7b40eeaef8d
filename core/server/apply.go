package server

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/tinylib/msgp/msgp"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

type marshaler = msgp.Marshaler

// Apply encodes msg as a t entry, commits it through raft and returns the
// FSM's response. It is the single choke point for every command the server
// proposes. A business rejection by the FSM (Response.Err) is returned as an
// error wrapping it, together with the response; ErrNotLeader when this
// server does not lead. If ctx ends first the entry may still commit.
func (s *Server) Apply(ctx context.Context, t command.MessageType, msg msgp.Marshaler) (*raftfsm.Response, error) {
	f, err := s.raftApply(ctx, t, msg)
	if err != nil {
		return nil, err
	}
	if err := s.waitFuture(ctx, f); err != nil {
		return nil, fmt.Errorf("server: apply %s: %w", t, s.diskErr(mapRaftErr(err)))
	}
	return s.response(t, f)
}

// raftApply encodes and enqueues one entry without waiting for it.
func (s *Server) raftApply(ctx context.Context, t command.MessageType, msg msgp.Marshaler) (raft.ApplyFuture, error) {
	if !s.IsLeader() {
		return nil, ErrNotLeader
	}
	if err := s.versionGate(t, msg); err != nil {
		return nil, err
	}
	size := 64
	if sz, ok := msg.(msgp.Sizer); ok {
		size = sz.Msgsize() + 1
	}
	buf, err := msg.MarshalMsg(append(make([]byte, 0, size), byte(t)))
	if err != nil {
		return nil, fmt.Errorf("server: encode %s: %w", t, err)
	}
	if len(buf) > s.cfg.MaxEntryBytes {
		s.stats.oversized.Add(1)
		s.logger.Warn("oversized raft entry", "type", t, "bytes", len(buf), "limit", s.cfg.MaxEntryBytes)
	}
	timeout := s.cfg.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	s.stats.applies.Add(1)
	s.stats.applyBytes.Add(uint64(len(buf)))
	return s.raft.Apply(buf, timeout), nil
}

// response turns a completed future's FSM response into a Go error.
func (s *Server) response(t command.MessageType, f raft.ApplyFuture) (*raftfsm.Response, error) {
	resp, ok := f.Response().(*raftfsm.Response)
	if !ok {
		return nil, fmt.Errorf("server: apply %s: unexpected FSM response %T", t, f.Response())
	}
	if resp.Err != nil {
		return resp, fmt.Errorf("server: apply %s rejected: %w", t, resp.Err)
	}
	return resp, nil
}

// Submit commits jobs, coalesced with concurrent callers into SubmitBatch
// entries of at most MaxEntryJobs jobs (a larger call spans several entries,
// each atomic on its own). Jobs without an ID get `<shard>-<random>`; every
// job's Submitter is set to submitter. Outcomes are in input order.
func (s *Server) Submit(ctx context.Context, jobs []command.JobSubmit, submitter string) ([]raftfsm.Outcome, error) {
	if !s.IsLeader() {
		return nil, ErrNotLeader
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	s.stats.submitCalls.Add(1)
	s.stats.submitJobs.Add(uint64(len(jobs)))
	items := make([]command.JobSubmit, len(jobs))
	copy(items, jobs)
	def := s.cfg.MaxAttempts
	s.fsm.Read(func(st *state.Store) {
		if p := st.Policy(); p.MaxAttempts > 0 {
			def = p.MaxAttempts
		}
	})
	for i := range items {
		if items[i].ID == "" {
			items[i].ID = items[i].Shard + "-" + randomID()
		}
		if items[i].MaxAttempts == 0 {
			items[i].MaxAttempts = def
		}
		items[i].Submitter = submitter
	}
	return s.submits.do(ctx, items)
}

// Results commits started attempts (StartBatch) and results
// (CompleteBatch, stamped with MaxAttempts), coalesced with other clients'.
// The two entries are proposed together, so one disk write carries both; the
// order between them does not matter: a result for an attempt not yet marked
// started records the start itself, and a start after the result is a
// duplicate. Duplicates and stale attempts are ignored by the FSM.
func (s *Server) Results(ctx context.Context, client string, started []command.JobAttempt, results []command.Result) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	var startErr error
	var wg sync.WaitGroup
	if len(started) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, startErr = s.starts.do(ctx, started)
		}()
	}
	var err error
	if len(results) > 0 {
		_, err = s.complete.do(ctx, results)
	}
	wg.Wait()
	if err == nil {
		err = startErr
	}
	if err != nil {
		return fmt.Errorf("server: results of %s: %w", client, err)
	}
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID is 80 random bits in lower-case base32 (16 characters). Only the
// leader draws it, before proposing; Apply never does.
func randomID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return idEncoding.EncodeToString(b[:])
}

// coalesceInFlight is how many entries of one coalescer may be in flight.
const coalesceInFlight = 1

// coalescer packs many callers' items into few entries. One goroutine
// gathers pending requests while the previous entry is in flight; at most
// coalesceInFlight entries are outstanding.
type coalescer[T any] struct {
	s        *Server
	name     string
	max      int
	build    func([]T) (command.MessageType, marshaler)
	entries  *atomic.Uint64
	reqs     chan *creq[T]
	inflight int
	// proposed, when set, is called with an entry's items once the entry is
	// in raft's queue; settled gets its answer once the entry is applied
	// or failed.
	proposed func([]T) any
	settled  func(any)
}

type creq[T any] struct {
	ctx   context.Context
	items []T
	outs  []raftfsm.Outcome
	err   error
	done  chan struct{}
}

type inflight[T any] struct {
	t     command.MessageType
	f     raft.ApplyFuture
	reqs  []*creq[T]
	count int
	tok   any // from proposed, handed to settled
}

func newCoalescer[T any](s *Server, name string, max int, build func([]T) (command.MessageType, marshaler), entries *atomic.Uint64) *coalescer[T] {
	return &coalescer[T]{s: s, name: name, max: max, build: build, entries: entries, reqs: make(chan *creq[T], 1024), inflight: coalesceInFlight}
}

// do submits items (split into chunks of at most max) and waits for all.
func (c *coalescer[T]) do(ctx context.Context, items []T) ([]raftfsm.Outcome, error) {
	var reqs []*creq[T]
	for len(items) > 0 {
		n := min(len(items), c.max)
		r := &creq[T]{ctx: ctx, items: items[:n:n], done: make(chan struct{})}
		items = items[n:]
		select {
		case c.reqs <- r:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.s.shutdownCtx.Done():
			return nil, ErrShutdown
		}
		reqs = append(reqs, r)
	}
	var outs []raftfsm.Outcome
	for _, r := range reqs {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.s.shutdownCtx.Done():
			return nil, ErrShutdown
		}
		if r.err != nil {
			return nil, r.err
		}
		outs = append(outs, r.outs...)
	}
	return outs, nil
}

func (c *coalescer[T]) run(ctx context.Context) {
	// slots bounds the entries in flight. A slot is taken after the first
	// request arrives and before the rest are gathered, so requests pile up
	// while earlier entries commit and the next entry takes them all.
	slots := make(chan struct{}, c.inflight)
	flight := make(chan inflight[T], c.inflight)
	responderDone := make(chan struct{})
	go func() {
		defer close(responderDone)
		for b := range flight {
			c.finish(b)
			<-slots
		}
	}()
	defer func() {
		close(flight)
		<-responderDone
	}()

	var carry *creq[T]
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-c.reqs:
			case <-ctx.Done():
				c.failPending(ErrShutdown)
				return
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			first.err = ErrShutdown
			close(first.done)
			c.failPending(ErrShutdown)
			return
		}
		batch := []*creq[T]{first}
		n := len(first.items)
	gather:
		for n < c.max {
			select {
			case r := <-c.reqs:
				if n+len(r.items) > c.max {
					carry = r
					break gather
				}
				batch = append(batch, r)
				n += len(r.items)
			default:
				break gather
			}
		}
		// Drop requests whose callers gave up before proposing.
		live := batch[:0]
		n = 0
		for _, r := range batch {
			if r.ctx.Err() != nil {
				r.err = r.ctx.Err()
				close(r.done)
				continue
			}
			live = append(live, r)
			n += len(r.items)
		}
		if len(live) == 0 {
			<-slots
			continue
		}
		items := make([]T, 0, n)
		for _, r := range live {
			items = append(items, r.items...)
		}
		t, msg := c.build(items)
		f, err := c.s.raftApply(ctx, t, msg)
		if err != nil {
			for _, r := range live {
				r.err = err
				close(r.done)
			}
			<-slots
			continue
		}
		c.entries.Add(1)
		var tok any
		if c.proposed != nil {
			tok = c.proposed(items)
		}
		// Never blocks: flight has as much room as there are slots.
		flight <- inflight[T]{t: t, f: f, reqs: live, count: n, tok: tok}
	}
}

func (c *coalescer[T]) finish(b inflight[T]) {
	var (
		resp *raftfsm.Response
		err  = c.s.waitFuture(context.Background(), b.f)
	)
	if c.settled != nil && b.tok != nil {
		c.settled(b.tok)
	}
	if err != nil {
		err = fmt.Errorf("server: %s entry: %w", c.name, c.s.diskErr(mapRaftErr(err)))
	} else {
		resp, err = c.s.response(b.t, b.f)
	}
	if err == nil && len(resp.Outcomes) != 0 && len(resp.Outcomes) != b.count {
		err = fmt.Errorf("server: %s entry: %d outcomes for %d items", c.name, len(resp.Outcomes), b.count)
	}
	off := 0
	for _, r := range b.reqs {
		if err != nil {
			r.err = err
		} else if len(resp.Outcomes) != 0 {
			r.outs = resp.Outcomes[off : off+len(r.items) : off+len(r.items)]
		}
		off += len(r.items)
		close(r.done)
	}
}

func (c *coalescer[T]) failPending(err error) {
	for {
		select {
		case r := <-c.reqs:
			r.err = err
			close(r.done)
		default:
			return
		}
	}
}
