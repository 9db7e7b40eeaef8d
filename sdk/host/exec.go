package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/internal/agentpb"
	"github.com/planetary/planetary/sdk/internal/convert"
)

// TaskResult is the outcome of one task sent on an ExecStream. Err is set
// when the task produced no Result: ErrTaskFailed (the agent returned an
// error), ErrTaskCancelled, or ErrStreamClosed (the stream or the plugin
// ended while the task ran).
type TaskResult struct {
	JobID   string
	Attempt uint32
	Result  sdk.Result
	Err     error
}

type taskKey struct {
	job     string
	attempt uint32
}

// Limits of one batched request. A single task larger than maxBatchBytes
// still goes out, alone.
const (
	maxBatchBytes = 1 << 20
	maxBatchItems = 4096
)

// outItem is one queued request: a task or a cancellation.
type outItem struct {
	task   *agentpb.Task
	cancel *agentpb.Cancel
}

// ExecStream is the one long-lived execute stream of a plugin. Send and
// Cancel may be called from many goroutines; results arrive on Results in
// completion order, and the channel closes when the stream ends.
//
// Send and Cancel queue their request and return; one sender goroutine
// writes the stream. When the agent reads batches, each message it sends
// carries everything that queued up while the previous message was being
// written, so a lone task leaves at once and a burst shares one message.
type ExecStream struct {
	p      *Plugin
	ctx    context.Context
	cancel context.CancelFunc
	stream agentpb.Agent_ExecuteClient
	batch  bool

	mu      sync.Mutex
	pending map[taskKey]struct{}
	// ended refuses new requests: CloseSend was called or the stream is
	// gone.
	ended bool
	// queue holds requests the sender has not taken yet; closing asks it
	// to close the send side once the queue is empty.
	queue   []outItem
	closing bool

	wake     chan struct{}
	sendDone chan struct{}
	closeErr error // set by the sender before sendDone closes

	results chan TaskResult

	// msgsSent and msgsRecv count stream messages, for the batching
	// figures of the benchmark.
	msgsSent, msgsRecv atomic.Int64
}

// ErrStreamEnded is returned by Send and Cancel after the stream has ended
// or CloseSend was called.
var ErrStreamEnded = errors.New("execute stream has ended")

// Exec opens the execute stream. It lives until ctx ends, CloseSend lets the
// running tasks drain, or the plugin exits. Results not yet delivered when
// ctx ends are dropped.
func (p *Plugin) Exec(ctx context.Context) (*ExecStream, error) {
	if err := p.need(sdk.CapExecute, "Execute"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := p.rpc.Execute(ctx)
	if err != nil {
		cancel()
		return nil, p.wrap("Execute", err)
	}
	s := &ExecStream{
		p: p, ctx: ctx, cancel: cancel, stream: stream, batch: p.batch,
		pending:  map[taskKey]struct{}{},
		wake:     make(chan struct{}, 1),
		sendDone: make(chan struct{}),
		results:  make(chan TaskResult, 256),
	}
	go s.sendLoop()
	go s.recvLoop()
	return s, nil
}

// Send starts a task on the plugin. A nil error means a TaskResult for the
// task will arrive on Results: its real outcome, or ErrStreamClosed if the
// stream ends first. A task the transport cannot carry is refused with
// ErrUndeliverable and leaves the stream as it was.
func (s *ExecStream) Send(t sdk.Task) error {
	pt := convert.TaskToProto(t)
	if err := deliverable(pt); err != nil {
		return fmt.Errorf("agent %q: job %s attempt %d: %w: %w", s.p.name, shortID(t.JobID), t.Attempt, ErrUndeliverable, err)
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return fmt.Errorf("agent %q: %w", s.p.name, ErrStreamEnded)
	}
	s.pending[taskKey{t.JobID, t.Attempt}] = struct{}{}
	s.queue = append(s.queue, outItem{task: pt})
	s.mu.Unlock()
	s.kick()
	return nil
}

// Cancel cancels a running task; its result arrives with ErrTaskCancelled
// (or its real result, if it finished first). Cancelling a task that is not
// running is a no-op.
func (s *ExecStream) Cancel(job string, attempt uint32) error {
	c := &agentpb.Cancel{JobId: job, Attempt: attempt}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return fmt.Errorf("agent %q: %w", s.p.name, ErrStreamEnded)
	}
	s.queue = append(s.queue, outItem{cancel: c})
	s.mu.Unlock()
	s.kick()
	return nil
}

// Results delivers one TaskResult per task sent.
func (s *ExecStream) Results() <-chan TaskResult { return s.results }

// Pending is the number of tasks sent whose results have not arrived.
func (s *ExecStream) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// CloseSend tells the plugin no more tasks follow: the requests already
// queued are sent, running tasks finish, their results arrive, and then
// Results closes.
func (s *ExecStream) CloseSend() error {
	s.mu.Lock()
	s.ended = true
	s.closing = true
	s.mu.Unlock()
	s.kick()
	<-s.sendDone
	return s.p.wrap("Execute", s.closeErr)
}

// Close aborts the stream: running tasks are cancelled on the plugin.
func (s *ExecStream) Close() { s.cancel() }

// kick wakes the sender if it is waiting.
func (s *ExecStream) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// sendLoop is the stream's only writer. Each round takes the whole queue
// and writes it; what queues up meanwhile is the next round's batch.
func (s *ExecStream) sendLoop() {
	defer close(s.sendDone)
	var buf []outItem
	for {
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
		for {
			s.mu.Lock()
			buf, s.queue = s.queue, buf[:0]
			closing := s.closing
			s.mu.Unlock()
			if len(buf) == 0 {
				if closing {
					s.closeErr = s.stream.CloseSend()
					return
				}
				break
			}
			err := s.write(buf)
			clear(buf)
			if err != nil {
				s.mu.Lock()
				s.ended = true
				s.mu.Unlock()
				if !errors.Is(err, io.EOF) {
					// A failed send has aborted the stream; make sure the
					// receiver sees its end and reports the pending tasks.
					s.p.logger.Debug("execute: send failed", "error", err)
					s.cancel()
				}
				return
			}
		}
	}
}

// write sends the items in order: one message each when the agent does not
// read batches, otherwise as few messages as the order and the size limits
// allow (a task queued after a cancel starts a new message, since a reader
// handles a message's tasks before its cancels).
func (s *ExecStream) write(items []outItem) error {
	if !s.batch {
		for _, it := range items {
			req := &agentpb.ExecuteRequest{}
			if it.task != nil {
				req.Msg = &agentpb.ExecuteRequest_Task{Task: it.task}
			} else {
				req.Msg = &agentpb.ExecuteRequest_Cancel{Cancel: it.cancel}
			}
			if err := s.stream.Send(req); err != nil {
				return err
			}
			s.msgsSent.Add(1)
		}
		return nil
	}
	for len(items) > 0 {
		req, n := nextRequest(items)
		if err := s.stream.Send(req); err != nil {
			return err
		}
		s.msgsSent.Add(1)
		items = items[n:]
	}
	return nil
}

// nextRequest packs the first n items into one batched request: tasks up
// to the first cancel, then cancels up to the next task, within the size
// and count limits (at least one item).
func nextRequest(items []outItem) (req *agentpb.ExecuteRequest, n int) {
	req = &agentpb.ExecuteRequest{}
	size := 0
	for ; n < len(items) && n < maxBatchItems; n++ {
		it := items[n]
		if it.task == nil {
			req.Cancels = append(req.Cancels, it.cancel)
			size += len(it.cancel.JobId) + 16
			continue
		}
		if len(req.Cancels) > 0 {
			break
		}
		sz := taskSize(it.task)
		if n > 0 && size+sz > maxBatchBytes {
			break
		}
		size += sz
		req.Tasks = append(req.Tasks, it.task)
	}
	return req, n
}

// requestOverhead bounds what an ExecuteRequest adds around its one task.
const requestOverhead = 16

// deliverable checks that a task fits one message of the transport and
// that it encodes: gRPC on the plugin's side refuses a larger message by
// ending the whole stream, and a string field that is not UTF-8 fails the
// encoding of the message (and with it the stream).
func deliverable(t *agentpb.Task) error {
	if taskSize(t) > sdk.MaxMessageBytes-64<<10 {
		if n := proto.Size(t) + requestOverhead; n > sdk.MaxMessageBytes {
			return fmt.Errorf("task is %d bytes encoded, over the plugin transport's limit of %d", n, sdk.MaxMessageBytes)
		}
	}
	for _, f := range [...]struct{ name, v string }{{"job id", t.JobId}, {"node", t.Node}, {"kind", t.Kind}} {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%s is not valid UTF-8", f.name)
		}
	}
	for i, c := range t.Capabilities {
		if !utf8.ValidString(c) {
			return fmt.Errorf("capabilities[%d] is not valid UTF-8", i)
		}
	}
	return nil
}

// shortID bounds a job id quoted in an error.
func shortID(id string) string {
	const max = 64
	if len(id) <= max {
		return id
	}
	return fmt.Sprintf("%s...(%d bytes)", id[:max], len(id))
}

// taskSize is an upper estimate of a task's encoded size.
func taskSize(t *agentpb.Task) int {
	n := 48 + len(t.JobId) + len(t.Node) + len(t.Kind) + len(t.Payload)
	for _, c := range t.Capabilities {
		n += len(c) + 4
	}
	return n
}

func (s *ExecStream) deliver(r TaskResult) bool {
	select {
	case s.results <- r:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// taskResult turns one outcome off the wire into a TaskResult.
func (s *ExecStream) taskResult(job string, attempt uint32, res *agentpb.Result, errText string, cancelled bool) TaskResult {
	r := TaskResult{JobID: job, Attempt: attempt}
	switch {
	case cancelled:
		r.Err = fmt.Errorf("agent %q: job %s attempt %d: %w", s.p.name, job, attempt, ErrTaskCancelled)
		if res != nil {
			r.Result = convert.ResultFromProto(res)
		}
	case errText != "":
		r.Err = fmt.Errorf("agent %q: job %s attempt %d: %w: %s", s.p.name, job, attempt, ErrTaskFailed, errText)
	default:
		r.Result = convert.ResultFromProto(res)
	}
	return r
}

func (s *ExecStream) recvLoop() {
	defer close(s.results)
	defer s.cancel()
	defer func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	}()
	for {
		resp, err := s.stream.Recv()
		if err != nil {
			s.streamEnded(err)
			return
		}
		s.msgsRecv.Add(1)
		outs := resp.GetOutcomes()
		if len(outs) == 0 {
			s.mu.Lock()
			delete(s.pending, taskKey{resp.GetJobId(), resp.GetAttempt()})
			s.mu.Unlock()
			if !s.deliver(s.taskResult(resp.GetJobId(), resp.GetAttempt(), resp.GetResult(), resp.GetError(), resp.GetCancelled())) {
				return
			}
			continue
		}
		s.mu.Lock()
		for _, o := range outs {
			delete(s.pending, taskKey{o.GetJobId(), o.GetAttempt()})
		}
		s.mu.Unlock()
		for _, o := range outs {
			if !s.deliver(s.taskResult(o.GetJobId(), o.GetAttempt(), o.GetResult(), o.GetError(), o.GetCancelled())) {
				return
			}
		}
	}
}

// streamEnded reports every task still pending as ErrStreamClosed.
func (s *ExecStream) streamEnded(err error) {
	s.mu.Lock()
	s.ended = true
	left := make([]taskKey, 0, len(s.pending))
	for k := range s.pending {
		left = append(left, k)
	}
	clear(s.pending)
	s.mu.Unlock()
	if len(left) == 0 {
		return
	}
	cause := s.p.wrap("Execute", err)
	s.p.logger.Warn("execute stream ended with tasks running", "tasks", len(left), "error", cause)
	for _, k := range left {
		if !s.deliver(TaskResult{JobID: k.job, Attempt: k.attempt,
			Err: fmt.Errorf("agent %q: job %s attempt %d: %w: %w", s.p.name, k.job, k.attempt, ErrStreamClosed, cause)}) {
			return
		}
	}
}
