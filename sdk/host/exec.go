package host

import (
	"context"
	"errors"
	"fmt"
	"sync"

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

// ExecStream is the one long-lived execute stream of a plugin. Send and
// Cancel may be called from many goroutines; results arrive on Results in
// completion order, and the channel closes when the stream ends.
type ExecStream struct {
	p      *Plugin
	ctx    context.Context
	cancel context.CancelFunc
	stream agentpb.Agent_ExecuteClient

	sendMu sync.Mutex

	mu      sync.Mutex
	pending map[taskKey]struct{}
	ended   bool

	results chan TaskResult
}

// ErrStreamEnded is returned by Send after the stream has ended.
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
		p: p, ctx: ctx, cancel: cancel, stream: stream,
		pending: map[taskKey]struct{}{},
		results: make(chan TaskResult, 256),
	}
	go s.recvLoop()
	return s, nil
}

// Send starts a task on the plugin.
func (s *ExecStream) Send(t sdk.Task) error {
	key := taskKey{t.JobID, t.Attempt}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return fmt.Errorf("agent %q: %w", s.p.name, ErrStreamEnded)
	}
	s.pending[key] = struct{}{}
	s.mu.Unlock()

	s.sendMu.Lock()
	err := s.stream.Send(&agentpb.ExecuteRequest{Msg: &agentpb.ExecuteRequest_Task{Task: convert.TaskToProto(t)}})
	s.sendMu.Unlock()
	if err != nil {
		s.mu.Lock()
		delete(s.pending, key)
		s.mu.Unlock()
		return s.p.wrap("Execute", err)
	}
	return nil
}

// Cancel cancels a running task; its result arrives with ErrTaskCancelled
// (or its real result, if it finished first). Cancelling a task that is not
// running is a no-op.
func (s *ExecStream) Cancel(job string, attempt uint32) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	err := s.stream.Send(&agentpb.ExecuteRequest{Msg: &agentpb.ExecuteRequest_Cancel{Cancel: &agentpb.Cancel{JobId: job, Attempt: attempt}}})
	return s.p.wrap("Execute", err)
}

// Results delivers one TaskResult per task sent.
func (s *ExecStream) Results() <-chan TaskResult { return s.results }

// Pending is the number of tasks sent whose results have not arrived.
func (s *ExecStream) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// CloseSend tells the plugin no more tasks follow: running tasks finish,
// their results arrive, and then Results closes.
func (s *ExecStream) CloseSend() error {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.p.wrap("Execute", s.stream.CloseSend())
}

// Close aborts the stream: running tasks are cancelled on the plugin.
func (s *ExecStream) Close() { s.cancel() }

func (s *ExecStream) deliver(r TaskResult) bool {
	select {
	case s.results <- r:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *ExecStream) recvLoop() {
	defer close(s.results)
	defer s.cancel()
	for {
		resp, err := s.stream.Recv()
		if err != nil {
			s.mu.Lock()
			s.ended = true
			left := make([]taskKey, 0, len(s.pending))
			for k := range s.pending {
				left = append(left, k)
			}
			clear(s.pending)
			s.mu.Unlock()
			if len(left) > 0 {
				cause := s.p.wrap("Execute", err)
				s.p.logger.Warn("execute stream ended with tasks running", "tasks", len(left), "error", cause)
				for _, k := range left {
					if !s.deliver(TaskResult{JobID: k.job, Attempt: k.attempt,
						Err: fmt.Errorf("agent %q: job %s attempt %d: %w: %w", s.p.name, k.job, k.attempt, ErrStreamClosed, cause)}) {
						return
					}
				}
			}
			return
		}
		key := taskKey{resp.GetJobId(), resp.GetAttempt()}
		s.mu.Lock()
		delete(s.pending, key)
		s.mu.Unlock()
		r := TaskResult{JobID: key.job, Attempt: key.attempt}
		switch {
		case resp.GetCancelled():
			r.Err = fmt.Errorf("agent %q: job %s attempt %d: %w", s.p.name, key.job, key.attempt, ErrTaskCancelled)
			if resp.GetResult() != nil {
				r.Result = convert.ResultFromProto(resp.GetResult())
			}
		case resp.GetError() != "":
			r.Err = fmt.Errorf("agent %q: job %s attempt %d: %w: %s", s.p.name, key.job, key.attempt, ErrTaskFailed, resp.GetError())
		default:
			r.Result = convert.ResultFromProto(resp.GetResult())
		}
		if !s.deliver(r) {
			return
		}
	}
}
