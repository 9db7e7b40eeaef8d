package link

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Memory is one region's link state in memory: the same outboxes and inbox as
// Store without the file, for a process whose regions need not outlive it
// and for benchmarks of the link itself. A restart loses it, so it is not
// for a region whose messages must survive one.
type Memory struct {
	mu      sync.Mutex
	out     map[string][]Message // to -> messages after the trimmed ones
	last    map[string]uint64    // to -> last seq appended
	through map[string]uint64    // from -> highest seq applied
	log     map[string][]Message // from -> applied, in order
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		out: map[string][]Message{}, last: map[string]uint64{},
		through: map[string]uint64{}, log: map[string][]Message{},
	}
}

// Append adds messages for region to and returns them with their seqs.
func (m *Memory) Append(to string, drafts ...Message) ([]Message, error) {
	if err := CheckName("to", to); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seq := m.last[to]
	out := make([]Message, len(drafts))
	for i, d := range drafts {
		d.Seq = seq + uint64(i) + 1
		if err := checkMessage(i, d); err != nil {
			return nil, fmt.Errorf("link: append to outbox %q: %w", to, err)
		}
		out[i] = d
	}
	m.out[to] = append(m.out[to], out...)
	m.last[to] = seq + uint64(len(out))
	return out, nil
}

// Outbox returns the outbox of the link to region to.
func (m *Memory) Outbox(to string) Outbox { return memOutbox{m: m, to: to} }

type memOutbox struct {
	m  *Memory
	to string
}

func (o memOutbox) Pending(after uint64, max int) []Message {
	o.m.mu.Lock()
	defer o.m.mu.Unlock()
	q := o.m.out[o.to]
	i := sort.Search(len(q), func(i int) bool { return q[i].Seq > after })
	q = q[i:min(len(q), i+max)]
	return append([]Message(nil), q...)
}

func (o memOutbox) Acked(through uint64) {
	o.m.mu.Lock()
	defer o.m.mu.Unlock()
	q := o.m.out[o.to]
	i := sort.Search(len(q), func(i int) bool { return q[i].Seq > through })
	o.m.out[o.to] = q[i:]
}

// Deliver applies the messages from region from that follow its through.
func (m *Memory) Deliver(ctx context.Context, from string, msgs []Message) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	through := m.through[from]
	fresh := Fresh(through, msgs)
	if n := len(fresh); n > 0 {
		m.log[from] = append(m.log[from], fresh...)
		through = fresh[n-1].Seq
		m.through[from] = through
	}
	return through, nil
}

// Through returns the highest seq applied from region from.
func (m *Memory) Through(from string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.through[from]
}

// Received returns the messages applied from region from, in order.
func (m *Memory) Received(from string) []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.log[from]...)
}

var (
	_ Inbox = (*Memory)(nil)
	_ Acker = memOutbox{}
)
