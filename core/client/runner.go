package client

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/host"
)

// outbox holds starts and results until a server acknowledges them.
//
// A result is sent at once (ready signals the result loop; whatever gathers
// while a send is in flight goes in the next request). A start waits for
// startDelay first: it is dropped when the attempt's result comes sooner,
// since the server records the start of an attempt it completes, so short
// tasks cost one report instead of two and long ones still show as running.
type outbox struct {
	max        int
	startDelay time.Duration
	full       chan struct{}
	ready      chan struct{}

	mu      sync.Mutex
	started []pendingStart
	pending map[api.JobAttempt]struct{} // starts in started not yet superseded
	results []api.Result
}

type pendingStart struct {
	a  api.JobAttempt
	at time.Time
}

type batch struct {
	started []api.JobAttempt
	results []api.Result
}

func (b batch) empty() bool { return len(b.started) == 0 && len(b.results) == 0 }

func newOutbox(max int, startDelay time.Duration) *outbox {
	return &outbox{
		max: max, startDelay: startDelay,
		full: make(chan struct{}, 1), ready: make(chan struct{}, 1),
		pending: map[api.JobAttempt]struct{}{},
	}
}

func (o *outbox) addStarted(a api.JobAttempt) {
	o.mu.Lock()
	o.started = append(o.started, pendingStart{a: a, at: time.Now()})
	o.pending[a] = struct{}{}
	o.mu.Unlock()
}

func (o *outbox) addResult(r api.Result) {
	o.mu.Lock()
	delete(o.pending, api.JobAttempt{JobID: r.JobID, Attempt: r.Attempt})
	o.results = append(o.results, r)
	n := len(o.results)
	o.mu.Unlock()
	signal(o.ready)
	if n >= o.max {
		signal(o.full)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// take removes up to max results and the starts older than startDelay
// (every start when all is set) for one request.
func (o *outbox) take(all bool) batch {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b batch
	cutoff := time.Now().Add(-o.startDelay)
	i := 0
	for ; i < len(o.started); i++ {
		p := o.started[i]
		if !all && p.at.After(cutoff) {
			break // younger starts follow (they are in arrival order)
		}
		if _, ok := o.pending[p.a]; ok {
			delete(o.pending, p.a)
			b.started = append(b.started, p.a)
		}
	}
	if i == len(o.started) {
		o.started = o.started[:0]
	} else if i > 0 {
		o.started = append(o.started[:0], o.started[i:]...)
	}
	n := min(len(o.results), o.max)
	b.results = o.results[:n:n]
	o.results = o.results[n:]
	return b
}

// putBack returns an unacknowledged batch to the front.
func (o *outbox) putBack(b batch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(b.started) > 0 {
		back := make([]pendingStart, 0, len(b.started)+len(o.started))
		for _, a := range b.started {
			back = append(back, pendingStart{a: a}) // already due
			o.pending[a] = struct{}{}
		}
		o.started = append(back, o.started...)
	}
	o.results = append(b.results, o.results...)
}

// nodeRunner runs one node's tasks on its plugin's execute stream.
type nodeRunner struct {
	c    *Client
	node state.Node
	log  hclog.Logger
	in   chan api.Assignment

	// changed is signalled when the catalog hands out a new executor.
	changed chan struct{}

	// limit is the node's max_concurrency (0: no limit): tasks beyond it
	// wait here, in arrival order, and start as running ones finish. The
	// scheduler fills a node up to its capacity, so a node whose capacity
	// exceeds its concurrency always has its next tasks at hand.
	limit atomic.Int64

	mu     sync.Mutex
	exec   Executor
	last   Executor // the executor last handed out, to notice a new one
	stream *host.ExecStream
	stop   context.CancelFunc
	// cancelled holds attempts cancelled while waiting for a slot.
	cancelled map[attemptKey]bool
}

func newNodeRunner(c *Client, n state.Node) *nodeRunner {
	nr := &nodeRunner{c: c, node: n, log: c.log.With("node", n.ID), in: make(chan api.Assignment, 1024),
		changed: make(chan struct{}, 1), cancelled: map[attemptKey]bool{}}
	nr.limit.Store(n.MaxConcurrency)
	return nr
}

// setLimit sets the node's max_concurrency (a node update).
func (nr *nodeRunner) setLimit(n int64) { nr.limit.Store(n) }

// start runs the node's execute and publish loops under ctx until ctx
// ends or the node is dropped (halt).
func (nr *nodeRunner) start(ctx context.Context, wg *sync.WaitGroup) {
	ctx, cancel := context.WithCancel(ctx)
	nr.mu.Lock()
	nr.stop = cancel
	nr.mu.Unlock()
	wg.Add(2)
	go func() { defer wg.Done(); nr.run(ctx) }()
	go func() { defer wg.Done(); nr.publishLoop(ctx) }()
}

// halt stops the node's loops.
func (nr *nodeRunner) halt() {
	nr.mu.Lock()
	stop := nr.stop
	nr.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// forget drops a cached executor that failed, so the next use asks the
// catalog again (it may have restarted the plugin).
func (nr *nodeRunner) forget(e Executor) {
	nr.mu.Lock()
	if nr.exec == e {
		nr.exec = nil
	}
	nr.mu.Unlock()
}

func (nr *nodeRunner) submit(ctx context.Context, a api.Assignment) {
	select {
	case nr.in <- a:
	case <-ctx.Done():
	}
}

// executor returns the node's plugin, asking the catalog when unknown.
func (nr *nodeRunner) executor(ctx context.Context) (Executor, error) {
	nr.mu.Lock()
	e := nr.exec
	nr.mu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := nr.c.cfg.Catalog.Executor(ctx, nr.node)
	if err != nil {
		return nil, err
	}
	nr.mu.Lock()
	fresh := nr.last != e
	nr.exec, nr.last = e, e
	nr.mu.Unlock()
	if fresh {
		select {
		case nr.changed <- struct{}{}:
		default:
		}
	}
	return e, nil
}

// probeResult is a node's beat, or silence when its plugin did not answer.
type probeResult struct {
	api.NodeBeat
	silent bool
}

// probe health-checks the node's plugin within HealthTimeout.
func (nr *nodeRunner) probe(ctx context.Context) probeResult {
	beat := probeResult{NodeBeat: api.NodeBeat{ID: nr.node.ID}}
	pctx, cancel := context.WithTimeout(ctx, nr.c.cfg.HealthTimeout)
	defer cancel()
	start := time.Now()
	e, err := nr.executor(pctx)
	if err == nil {
		err = e.Health(pctx)
		if err != nil {
			nr.forget(e)
		} else if p, ok := e.(interface{ Pid() int }); ok {
			beat.PluginPid = p.Pid()
		}
	}
	beat.LatencyMs = time.Since(start).Milliseconds()
	beat.Healthy = err == nil
	// A plugin that does not answer at all (stopped, hung) sends no beat:
	// its node's TTL on the leader decides, as for a lost host.
	beat.silent = err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
	if err != nil && ctx.Err() == nil {
		nr.log.Debug("health probe failed", "error", err)
	}
	return beat
}

// cancel cancels an attempt: a running one on the plugin, a waiting one
// before it starts.
func (nr *nodeRunner) cancel(k attemptKey) {
	nr.mu.Lock()
	s := nr.stream
	nr.cancelled[k] = true
	nr.mu.Unlock()
	if s != nil {
		if err := s.Cancel(k.job, k.attempt); err != nil {
			nr.log.Debug("cancel failed", "job", k.job, "attempt", k.attempt, "error", err)
		}
	}
}

// run opens the node's execute stream, feeds it assignments and collects
// results; when the stream ends it asks the catalog again and reopens it.
func (nr *nodeRunner) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := nr.session(ctx); err != nil && ctx.Err() == nil {
			nr.log.Warn("execute stream ended", "error", err)
			nr.mu.Lock()
			nr.exec, nr.stream = nil, nil
			nr.mu.Unlock()
			sleep(ctx, nr.c.cfg.RetryInterval)
		}
	}
}

// session runs one execute stream until it ends.
func (nr *nodeRunner) session(ctx context.Context) error {
	var pending *api.Assignment
	select {
	case a := <-nr.in: // open the stream on first use
		pending = &a
	case <-ctx.Done():
		return nil
	}
	e, err := nr.executor(ctx)
	if err != nil {
		nr.fail(*pending, err)
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := e.Exec(sctx)
	if err != nil {
		nr.fail(*pending, err)
		return err
	}
	nr.mu.Lock()
	nr.stream = s
	nr.mu.Unlock()
	defer func() {
		nr.mu.Lock()
		nr.stream = nil
		nr.mu.Unlock()
	}()

	inflight := map[attemptKey]bool{}
	var waiting []api.Assignment
	full := func() bool {
		l := nr.limit.Load()
		return l > 0 && int64(len(inflight)) >= l
	}
	send := func(a api.Assignment) error {
		k := attemptKey{a.JobID, a.Attempt}
		err := s.Send(sdk.Task{JobID: a.JobID, Attempt: a.Attempt, Node: a.Node, Kind: a.Kind,
			Payload: a.Payload, Capabilities: a.Capabilities, Seed: a.Seed})
		if errors.Is(err, host.ErrUndeliverable) {
			// This task alone: the stream and the node's other tasks go
			// on, and the job fails for good (no plugin can take it).
			nr.log.Warn("task cannot be delivered to the plugin", "error", err)
			nr.c.finish(k, api.Result{JobID: a.JobID, Attempt: a.Attempt, Error: "node " + a.Node + ": " + err.Error()})
			return nil
		}
		if err != nil {
			nr.fail(a, err)
			return err
		}
		inflight[k] = true
		nr.c.started(k)
		return nil
	}
	if err := send(*pending); err != nil {
		return err
	}
	// startWaiting sends waiting tasks while there is a free slot; a task
	// cancelled while it waited finishes without running (its result is
	// stale to the server).
	startWaiting := func() error {
		for len(waiting) > 0 && !full() {
			a := waiting[0]
			waiting = waiting[1:]
			k := attemptKey{a.JobID, a.Attempt}
			nr.mu.Lock()
			dropped := nr.cancelled[k]
			delete(nr.cancelled, k)
			nr.mu.Unlock()
			if dropped {
				nr.c.finish(k, api.Result{JobID: a.JobID, Attempt: a.Attempt, Retryable: true, Error: "cancelled before it started"})
				continue
			}
			if err := send(a); err != nil {
				return err
			}
		}
		return nil
	}
	results := s.Results()
	reported := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-nr.in:
			if full() || len(waiting) > 0 {
				waiting = append(waiting, a)
				continue
			}
			if err := send(a); err != nil {
				return nr.drain(inflight, waiting, err)
			}
		case tr, ok := <-results:
			if !ok {
				return nr.drain(inflight, waiting, host.ErrStreamClosed)
			}
			k := attemptKey{tr.JobID, tr.Attempt}
			delete(inflight, k)
			nr.mu.Lock()
			delete(nr.cancelled, k)
			nr.mu.Unlock()
			if !reported && errors.Is(tr.Err, host.ErrStreamClosed) {
				// The plugin died under this task: take the node down
				// before the failure is reported (see drain).
				nr.c.reportDown(nr.node.ID, tr.Err)
				reported = true
			}
			nr.c.finish(k, toResult(tr, nr.c.log))
			if err := startWaiting(); err != nil {
				return nr.drain(inflight, waiting, err)
			}
		}
	}
}

// drain reports every attempt still in flight on a dead stream as a
// retryable failure, so the server requeues it. A dead stream means the
// plugin process is gone, busy or idle: the node is reported unhealthy first, so the
// leader marks it down (requeueing its work, fenced by attempt) before the
// scheduler could place the retry on the same dead node. The failures sent
// after it are then stale and ignored; the retry runs elsewhere or after the
// catalog has restarted the plugin and its next probe brings the node up.
func (nr *nodeRunner) drain(inflight map[attemptKey]bool, waiting []api.Assignment, cause error) error {
	nr.c.reportDown(nr.node.ID, cause)
	for k := range inflight {
		nr.c.finish(k, api.Result{JobID: k.job, Attempt: k.attempt, Retryable: true, Error: cause.Error()})
	}
	for _, a := range waiting {
		nr.c.finish(attemptKey{a.JobID, a.Attempt}, api.Result{JobID: a.JobID, Attempt: a.Attempt, Retryable: true, Error: cause.Error()})
	}
	return cause
}

func (nr *nodeRunner) fail(a api.Assignment, err error) {
	nr.c.finish(attemptKey{a.JobID, a.Attempt}, api.Result{JobID: a.JobID, Attempt: a.Attempt, Retryable: true,
		Error: "node " + a.Node + ": " + err.Error()})
}

func toResult(tr host.TaskResult, log hclog.Logger) api.Result {
	r := api.Result{JobID: tr.JobID, Attempt: tr.Attempt}
	if tr.Err != nil {
		// No result: the agent errored, the stream ended (both retryable), or
		// the task was cancelled because its job was cancelled or requeued,
		// which the server ignores as a stale attempt.
		r.Retryable = true
		r.Error = tr.Err.Error()
		return r
	}
	r.OK, r.Retryable, r.ExitCode, r.Output, r.Error =
		tr.Result.OK, tr.Result.Retryable, tr.Result.ExitCode, tr.Result.Output, tr.Result.Error
	r.Usage = usageOf(tr.Result.Usage, func(unit string, v float64) {
		log.Warn("plugin reported usage that cannot be metered; dropped", "job_id", tr.JobID, "unit", unit, "units", v)
	})
	return r
}

// usageOf is the usage a plugin reported, without the dimensions that
// cannot be metered (an empty or too long name, units that are negative,
// not finite or above state.MaxUnits, dimensions past state.MaxDimensions),
// each passed to drop: the server refuses a
// results batch holding one, and a job settles a dimension it does not
// hear of at its declared units. nil when nothing is left.
func usageOf(u map[string]float64, drop func(unit string, v float64)) map[string]float64 {
	var out map[string]float64
	for _, k := range slices.Sorted(maps.Keys(u)) {
		v := u[k]
		if _, ok := state.MicroUnits(v); !ok || k == "" || len(k) > state.MaxUnitLen || len(out) == state.MaxDimensions {
			drop(k, v)
			continue
		}
		if out == nil {
			out = make(map[string]float64, len(u))
		}
		out[k] = v
	}
	return out
}
