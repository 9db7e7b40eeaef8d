package link

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config configures one directed link. The zero durations take the
// defaults, which tolerate a one-way latency of several seconds; for a link
// of minutes (Earth-Mars) set RequestTimeout above the round trip plus the
// receiver's apply time, and KeepAlive and BackoffMax to a fraction of it
// (docs/architecture.md, "Links").
type Config struct {
	From      string    // sending region
	To        string    // receiving region
	Outbox    Outbox    // the sender's messages for To
	Transport Transport // how batches reach To's inbox
	Logger    hclog.Logger

	// MaxBatch and MaxBatchBytes bound one request (default 256 messages,
	// 1 MiB). A link keeps one request in flight, so its throughput is at
	// most MaxBatch messages per round trip.
	MaxBatch      int
	MaxBatchBytes int
	// RequestTimeout bounds one request and its answer (default 30 s, which
	// covers a 2 s one-way latency many times over).
	RequestTimeout time.Duration
	// BackoffMin and BackoffMax space the retries after failures: the wait
	// doubles from BackoffMin on each consecutive failure up to BackoffMax
	// (defaults 100 ms and 10 s).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// KeepAlive is how long an idle link waits before it probes the
	// receiver and re-reads the outbox (default 10 s). Notify wakes it
	// sooner.
	KeepAlive time.Duration
	// UnreachableAfter is the number of consecutive failed requests after
	// which Status says unreachable (default 3).
	UnreachableAfter int
}

// Defaults of Config.
const (
	DefaultMaxBatch         = 256
	DefaultMaxBatchBytes    = 1 << 20
	DefaultRequestTimeout   = 30 * time.Second
	DefaultBackoffMin       = 100 * time.Millisecond
	DefaultBackoffMax       = 10 * time.Second
	DefaultKeepAlive        = 10 * time.Second
	DefaultUnreachableAfter = 3
)

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.UnreachableAfter == 0 {
		c.UnreachableAfter = DefaultUnreachableAfter
	}
}

// Validate refuses a config the link cannot run with, naming the field.
func (c Config) Validate() error {
	if err := CheckName("From", c.From); err != nil {
		return err
	}
	if err := CheckName("To", c.To); err != nil {
		return err
	}
	switch {
	case c.From == c.To:
		return fmt.Errorf("link: To: %q is the sending region", c.To)
	case c.Outbox == nil:
		return errors.New("link: Outbox: nil")
	case c.Transport == nil:
		return errors.New("link: Transport: nil")
	case c.MaxBatch < 0 || c.MaxBatch > MaxBatchMessages:
		return fmt.Errorf("link: MaxBatch: %d, want 1 to %d", c.MaxBatch, MaxBatchMessages)
	case c.MaxBatchBytes < 0 || c.MaxBatchBytes > MaxBatchBytes/2:
		return fmt.Errorf("link: MaxBatchBytes: %d, want 1 to %d", c.MaxBatchBytes, MaxBatchBytes/2)
	case c.RequestTimeout < 0, c.BackoffMin < 0, c.BackoffMax < 0, c.KeepAlive < 0, c.UnreachableAfter < 0:
		return errors.New("link: RequestTimeout, BackoffMin, BackoffMax, KeepAlive and UnreachableAfter may not be negative")
	case c.BackoffMax != 0 && c.BackoffMin > c.BackoffMax:
		return fmt.Errorf("link: BackoffMin: %s is above BackoffMax %s", c.BackoffMin, c.BackoffMax)
	}
	return nil
}

// State is a link's condition as Status reports it.
type State string

// The states of a link.
const (
	// StateConnecting: no answer from the receiver since the link started.
	StateConnecting State = "connecting"
	// StateUp: the last request was answered and every message sent is
	// acknowledged.
	StateUp State = "up"
	// StateBacklog: the receiver answers, and messages sent are not all
	// acknowledged yet.
	StateBacklog State = "backlog"
	// StateUnreachable: UnreachableAfter or more consecutive requests failed
	// (a partition, a receiver down, a link dropping everything).
	StateUnreachable State = "unreachable"
	// StateStopped: Stop was called.
	StateStopped State = "stopped"
)

// Status is what an operator sees of one link.
type Status struct {
	From        string        `json:"from"`
	To          string        `json:"to"`
	State       State         `json:"state"`
	Backlog     uint64        `json:"backlog"`      // sent at least once but not acknowledged
	LastAcked   uint64        `json:"last_acked"`   // the receiver's last through
	LastContact time.Time     `json:"last_contact"` // last answer, zero before the first
	RTT         time.Duration `json:"rtt"`          // smoothed round trip of answered requests
	Failures    int           `json:"failures"`     // consecutive failed requests
	LastError   string        `json:"last_error,omitempty"`

	Requests    uint64 `json:"requests"`    // requests answered
	Errors      uint64 `json:"errors"`      // requests that failed
	Sent        uint64 `json:"sent"`        // messages transmitted, retransmissions included
	Retransmits uint64 `json:"retransmits"` // messages transmitted again
}

// Link sends one region's outbox for another to that region's inbox.
type Link struct {
	cfg  Config
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	started  bool
	stopped  bool
	known    bool   // an answer came since Start
	probe    bool   // the next round sends even when nothing is pending
	acked    uint64 // the receiver's last through
	reported uint64 // highest through passed to Acker
	sentTo   uint64 // highest seq transmitted
	contact  time.Time
	rtt      time.Duration
	failures int
	lastErr  string
	counts   struct{ requests, errors, sent, retransmits uint64 }
}

// New returns a link that has not started.
func New(cfg Config) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.Logger = cfg.Logger.Named("link").With("from", cfg.From, "to", cfg.To)
	return &Link{
		cfg:  cfg,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}, nil
}

// Start runs the link until Stop; a stopped link does not start again. It
// starts from no cursor: the first request
// is a probe whose answer is the receiver's through.
func (l *Link) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.stopped {
		return
	}
	l.started = true
	go l.run()
}

// Stop ends the link and waits for its request in flight to end.
func (l *Link) Stop() {
	l.once.Do(func() { close(l.stop) })
	l.mu.Lock()
	started := l.started
	l.stopped = true
	l.mu.Unlock()
	if started {
		<-l.done
	}
}

// Notify tells the link that its outbox holds new messages. It never blocks;
// a link waiting out a backoff keeps waiting.
func (l *Link) Notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Status returns the link's state.
func (l *Link) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Status{
		From: l.cfg.From, To: l.cfg.To,
		LastAcked: l.acked, LastContact: l.contact, RTT: l.rtt,
		Failures: l.failures, LastError: l.lastErr,
		Requests: l.counts.requests, Errors: l.counts.errors,
		Sent: l.counts.sent, Retransmits: l.counts.retransmits,
	}
	if l.sentTo > l.acked {
		s.Backlog = l.sentTo - l.acked
	}
	switch {
	case l.stopped:
		s.State = StateStopped
	case l.failures >= l.cfg.UnreachableAfter:
		s.State = StateUnreachable
	case !l.known:
		s.State = StateConnecting
	case s.Backlog > 0:
		s.State = StateBacklog
	default:
		s.State = StateUp
	}
	return s
}

func (l *Link) run() {
	defer close(l.done)
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	for {
		batch, send := l.next()
		if !send {
			woken, ok := l.wait(idle, l.cfg.KeepAlive, true)
			if !ok {
				return
			}
			if !woken {
				l.probeDue()
			}
			continue
		}
		if err := l.exchange(batch); err != nil {
			if _, ok := l.wait(idle, l.backoff(), false); !ok {
				return
			}
		}
	}
}

// next returns the messages to send from the receiver's last through, and
// whether a request is due: one with messages, or a probe (no answer since
// Start, or a keep-alive).
func (l *Link) next() ([]Message, bool) {
	l.mu.Lock()
	after, known, probe := l.acked, l.known, l.probe
	l.mu.Unlock()
	if !known {
		return nil, true
	}
	msgs := l.cfg.Outbox.Pending(after, l.cfg.MaxBatch)
	if len(msgs) == 0 {
		return nil, probe
	}
	n, size := 0, 0
	for n < len(msgs) && n < l.cfg.MaxBatch {
		size += msgs[n].size()
		if n > 0 && size > l.cfg.MaxBatchBytes {
			break
		}
		n++
	}
	return msgs[:n], true
}

// probeDue makes the next round send even with nothing pending, so an idle
// link learns of the receiver's state (a restart, a partition) within
// KeepAlive.
func (l *Link) probeDue() {
	l.mu.Lock()
	l.probe = true
	l.mu.Unlock()
}

// exchange sends one batch and records its answer.
func (l *Link) exchange(msgs []Message) error {
	l.mu.Lock()
	after := l.acked
	for _, m := range msgs {
		if m.Seq <= l.sentTo {
			l.counts.retransmits++
		}
	}
	l.counts.sent += uint64(len(msgs))
	if n := len(msgs); n > 0 && msgs[n-1].Seq > l.sentTo {
		l.sentTo = msgs[n-1].Seq
	}
	l.mu.Unlock()
	if len(msgs) > 0 && msgs[0].Seq != after+1 {
		err := fmt.Errorf("link: the outbox holds no seq %d (its first after %d is %d): the receiver is behind what the outbox kept", after+1, after, msgs[0].Seq)
		l.failed(err)
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RequestTimeout)
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	through, err := l.cfg.Transport.Send(ctx, Batch{From: l.cfg.From, To: l.cfg.To, Msgs: msgs})
	if err != nil {
		l.failed(err)
		return err
	}
	l.answered(through, time.Since(start))
	return nil
}

func (l *Link) failed(err error) {
	l.mu.Lock()
	l.failures++
	l.counts.errors++
	l.lastErr = err.Error()
	n := l.failures
	l.mu.Unlock()
	if n == 1 || n == l.cfg.UnreachableAfter {
		l.cfg.Logger.Warn("link request failed", "failures", n, "error", err)
	} else {
		l.cfg.Logger.Debug("link request failed", "failures", n, "error", err)
	}
}

func (l *Link) answered(through uint64, rtt time.Duration) {
	l.mu.Lock()
	if l.failures >= l.cfg.UnreachableAfter {
		l.cfg.Logger.Info("link answers again", "failures", l.failures, "through", through)
	}
	l.known = true
	l.probe = false
	l.acked = through
	l.failures = 0
	l.lastErr = ""
	l.contact = time.Now()
	l.counts.requests++
	if l.rtt == 0 {
		l.rtt = rtt
	} else {
		l.rtt += (rtt - l.rtt) / 8
	}
	report := through > l.reported
	if report {
		l.reported = through
	}
	l.mu.Unlock()
	if a, ok := l.cfg.Outbox.(Acker); ok && report {
		a.Acked(through)
	}
}

// backoff is the wait after the current run of failures.
func (l *Link) backoff() time.Duration {
	l.mu.Lock()
	n := l.failures
	l.mu.Unlock()
	d := l.cfg.BackoffMin
	for i := 1; i < n && d < l.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, l.cfg.BackoffMax)
}

// wait blocks for d, or until Notify when wakeable; woken says a Notify
// ended it, ok is false once the link is stopped.
func (l *Link) wait(t *time.Timer, d time.Duration, wakeable bool) (woken, ok bool) {
	t.Reset(d)
	defer t.Stop()
	var wake <-chan struct{}
	if wakeable {
		wake = l.wake
	}
	select {
	case <-l.stop:
		return false, false
	case <-t.C:
		return false, true
	case <-wake:
		return true, true
	}
}
