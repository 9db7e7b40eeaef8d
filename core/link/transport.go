package link

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Transport carries one batch to the receiving region's inbox and returns
// its answer, the highest seq that inbox has applied from the batch's
// sender. An error means the sender does not know what arrived: it
// retransmits, and the inbox's idempotence makes that safe.
type Transport interface {
	Send(ctx context.Context, b Batch) (through uint64, err error)
}

// ErrUnknownRegion is returned for a batch to a region the transport has no
// inbox or address for.
var ErrUnknownRegion = errors.New("link: unknown region")

// Local is the in-process transport: it hands a batch straight to the inbox
// of the region it is for, with the checks of the HTTP handler and a copy of
// every body, so that one process hosting every region (the dev agent)
// exercises what a cluster does except the wire.
type Local struct {
	mu      sync.RWMutex
	inboxes map[string]Inbox
}

// NewLocal returns a Local transport with no regions; Add registers them.
func NewLocal() *Local { return &Local{inboxes: map[string]Inbox{}} }

// Add registers the inbox of region; a second Add of a region replaces it
// (a region restarted on its data dir).
func (l *Local) Add(region string, in Inbox) {
	l.mu.Lock()
	l.inboxes[region] = in
	l.mu.Unlock()
}

// Regions returns the regions with an inbox, sorted.
func (l *Local) Regions() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, 0, len(l.inboxes))
	for r := range l.inboxes {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Send delivers b to the inbox of b.To.
func (l *Local) Send(ctx context.Context, b Batch) (uint64, error) {
	if err := CheckBatch(b); err != nil {
		return 0, err
	}
	l.mu.RLock()
	in, ok := l.inboxes[b.To]
	l.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("%w: to: %q has no inbox in this process", ErrUnknownRegion, b.To)
	}
	msgs := make([]Message, len(b.Msgs))
	for i, m := range b.Msgs {
		msgs[i] = m.clone()
	}
	return in.Deliver(ctx, b.From, msgs)
}

var _ Transport = (*Local)(nil)
