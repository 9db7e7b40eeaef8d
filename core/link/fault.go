package link

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrDropped is returned by Faulty for a request or an answer it dropped.
var ErrDropped = errors.New("link: dropped by fault injection")

// FaultConfig sets the random faults of a Faulty transport. The draws come
// from one RNG seeded with Seed, so a test replays the same faults for the
// same sequence of requests.
type FaultConfig struct {
	Seed uint64
	// DropRate is the chance that a request is lost on its way, and, drawn
	// again, that its answer is lost on the way back (the batch was then
	// applied, and the sender does not know it).
	DropRate float64
	// DupRate is the chance that a request is delivered twice: once as sent
	// and once more after an older batch of the last few is delivered
	// again, as a network that duplicates and reorders would.
	DupRate float64
	// HoldDropped makes a dropped request or answer hold the call until its
	// context ends, as a lost packet does, instead of failing at once.
	HoldDropped bool
}

// FaultStats counts what a Faulty transport did.
type FaultStats struct {
	Requests        uint64 // calls of Send
	DroppedRequests uint64 // requests lost before the inbox
	DroppedMessages uint64 // messages of those requests
	DroppedAnswers  uint64 // answers lost after the inbox applied the batch
	Duplicates      uint64 // extra deliveries of a batch
	Delivered       uint64 // batches handed to the wrapped transport as sent
}

// Faulty wraps a Transport with the faults of an interplanetary link:
// one-way latency on each leg, partitions, and seeded drops and duplicates.
// It queues nothing: what a partition or a drop takes is gone, and only the
// sender's retransmission brings it back.
type Faulty struct {
	next Transport

	mu          sync.Mutex
	rng         *rand.Rand
	cfg         FaultConfig
	request     time.Duration // one-way latency of a request
	answer      time.Duration // one-way latency of its answer
	partitioned bool
	recent      []Batch // the last batches delivered, for stale duplicates
	stats       FaultStats
}

const recentBatches = 8

// NewFaulty wraps next with the random faults of cfg, no latency and no
// partition.
func NewFaulty(next Transport, cfg FaultConfig) (*Faulty, error) {
	if next == nil {
		return nil, errors.New("link: NewFaulty: nil transport")
	}
	if err := checkRates(cfg.DropRate, cfg.DupRate); err != nil {
		return nil, err
	}
	return &Faulty{next: next, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}, nil
}

func checkRates(drop, dup float64) error {
	if drop < 0 || drop >= 1 {
		return fmt.Errorf("link: DropRate: %v, want 0 <= rate < 1", drop)
	}
	if dup < 0 || dup > 1 {
		return fmt.Errorf("link: DupRate: %v, want 0 <= rate <= 1", dup)
	}
	return nil
}

// SetLatency sets the one-way latency of both legs: a request reaches the
// inbox d after it is sent, and its answer the sender d after that.
func (f *Faulty) SetLatency(d time.Duration) { f.SetLatencies(d, d) }

// SetLatencies sets the one-way latency of requests and of answers apart.
func (f *Faulty) SetLatencies(request, answer time.Duration) {
	f.mu.Lock()
	f.request, f.answer = request, answer
	f.mu.Unlock()
}

// SetRates changes the drop and duplicate rates.
func (f *Faulty) SetRates(drop, dup float64) error {
	if err := checkRates(drop, dup); err != nil {
		return err
	}
	f.mu.Lock()
	f.cfg.DropRate, f.cfg.DupRate = drop, dup
	f.mu.Unlock()
	return nil
}

// Partition cuts the link: every request and every answer that arrives
// while it is cut is dropped, including those already under way.
func (f *Faulty) Partition() {
	f.mu.Lock()
	f.partitioned = true
	f.mu.Unlock()
}

// Heal ends a partition.
func (f *Faulty) Heal() {
	f.mu.Lock()
	f.partitioned = false
	f.mu.Unlock()
}

// Stats returns the counts so far.
func (f *Faulty) Stats() FaultStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Send carries b through the faults to the wrapped transport.
func (f *Faulty) Send(ctx context.Context, b Batch) (uint64, error) {
	f.mu.Lock()
	f.stats.Requests++
	out := f.request
	f.mu.Unlock()
	if err := sleep(ctx, out); err != nil {
		return 0, err
	}

	stale, dup, drop := f.arrive(b)
	if drop {
		return 0, f.dropped(ctx, "request")
	}
	if stale != nil {
		_, _ = f.next.Send(ctx, *stale)
	}
	through, err := f.next.Send(ctx, b)
	if dup {
		through, err = f.next.Send(ctx, b)
	}
	if err != nil {
		return 0, err
	}

	f.mu.Lock()
	back := f.answer
	f.mu.Unlock()
	if err := sleep(ctx, back); err != nil {
		return 0, err
	}
	if f.leave() {
		return 0, f.dropped(ctx, "answer")
	}
	return through, nil
}

// arrive decides the fate of a request reaching the far side: dropped, or
// delivered with an optional stale batch before it and a duplicate after.
func (f *Faulty) arrive(b Batch) (stale *Batch, dup, drop bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.partitioned || f.draw(f.cfg.DropRate) {
		f.stats.DroppedRequests++
		f.stats.DroppedMessages += uint64(len(b.Msgs))
		return nil, false, true
	}
	f.stats.Delivered++
	if f.draw(f.cfg.DupRate) {
		f.stats.Duplicates++
		if len(f.recent) > 0 {
			old := f.recent[f.rng.IntN(len(f.recent))]
			stale = &old
		} else {
			dup = true
		}
	}
	if len(f.recent) == recentBatches {
		f.recent = append(f.recent[:0], f.recent[1:]...)
	}
	f.recent = append(f.recent, b)
	return stale, dup, false
}

// leave decides whether an answer is dropped on its way back.
func (f *Faulty) leave() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.partitioned || f.draw(f.cfg.DropRate) {
		f.stats.DroppedAnswers++
		return true
	}
	return false
}

func (f *Faulty) draw(rate float64) bool {
	return rate > 0 && f.rng.Float64() < rate
}

func (f *Faulty) dropped(ctx context.Context, what string) error {
	err := fmt.Errorf("%w: %s", ErrDropped, what)
	if f.cfg.HoldDropped {
		<-ctx.Done()
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var _ Transport = (*Faulty)(nil)
