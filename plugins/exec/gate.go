package exec

import (
	"context"
	"sync/atomic"
	"time"
)

// startGrace is how long a started command holds its start slot at most.
// A short command gives the slot back when it exits; a long one gives it
// back after startGrace, so long-running tasks never starve the gate.
const startGrace = 20 * time.Millisecond

// startGate bounds the commands being started or freshly running at once.
// A node may hand the agent thousands of tasks together; forking them all
// at once puts thousands of runnable processes, directory creations and
// blocked wait threads on a few cores, and each task then takes longer
// than the whole batch would queued. Tasks past the bound wait in the gate
// (in arrival order) instead.
type startGate struct {
	slots chan struct{}
}

func newStartGate(n int) *startGate {
	return &startGate{slots: make(chan struct{}, max(n, 1))}
}

// slot is one task's hold on the gate. release may be called more than
// once and from several goroutines; the slot is freed once.
type slot struct {
	g    *startGate
	done atomic.Bool
}

// enter waits for a free slot. It returns ctx.Err() if ctx ends first.
func (g *startGate) enter(ctx context.Context) (*slot, error) {
	select {
	case g.slots <- struct{}{}:
		return &slot{g: g}, nil
	default:
	}
	select {
	case g.slots <- struct{}{}:
		return &slot{g: g}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *slot) release() {
	if s.done.CompareAndSwap(false, true) {
		<-s.g.slots
	}
}
