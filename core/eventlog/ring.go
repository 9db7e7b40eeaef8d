package eventlog

import "github.com/planetary/planetary/raftfsm/state"

// ringChunk is the number of events per block of the tail ring. Blocks are
// allocated as the ring first fills and never copied, so filling a large
// tail costs no slice growth.
const ringChunk = 1024

// ring is a bounded FIFO of events, overwriting the oldest when full.
type ring struct {
	chunks [][]state.Event
	size   int // capacity
	start  int // position of the oldest event
	n      int // events held
}

func newRing(size int) ring {
	return ring{size: size, chunks: make([][]state.Event, (size+ringChunk-1)/ringChunk)}
}

func (r *ring) slot(pos int) *state.Event {
	c := r.chunks[pos/ringChunk]
	if c == nil {
		c = make([]state.Event, min(ringChunk, r.size-pos/ringChunk*ringChunk))
		r.chunks[pos/ringChunk] = c
	}
	return &c[pos%ringChunk]
}

// push appends ev, dropping the oldest event when the ring is full.
func (r *ring) push(ev *state.Event) {
	if r.n < r.size {
		*r.slot((r.start + r.n) % r.size) = *ev
		r.n++
		return
	}
	*r.slot(r.start) = *ev
	r.start = (r.start + 1) % r.size
}

// at returns the i-th oldest event; 0 <= i < r.n.
func (r *ring) at(i int) *state.Event { return r.slot((r.start + i) % r.size) }

// reset empties the ring, keeping its blocks.
func (r *ring) reset() { r.start, r.n = 0, 0 }
