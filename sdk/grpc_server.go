package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/planetary/planetary/sdk/internal/agentpb"
)

// agentPlugin is the plugin side of the go-plugin glue: it serves one Agent.
type agentPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl   Agent
	logger hclog.Logger
	// life ends when the process is shutting down; running tasks derive
	// their contexts from it too.
	life context.Context
	// tasks counts running tasks across streams, so a shutdown can wait for
	// them to observe cancellation.
	tasks sync.WaitGroup
}

func (p *agentPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	agentpb.RegisterAgentServer(s, &grpcServer{impl: p.impl, logger: p.logger, life: p.life, tasks: &p.tasks})
	return nil
}

func (p *agentPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("the sdk package serves agents; use sdk/host to consume them")
}

// newGRPCServerPlugin returns the go-plugin Plugin that serves a as the
// PluginName plugin. Serve uses it.
// life bounds every task the agent runs (nil
// means context.Background()).
func newGRPCServerPlugin(a Agent, logger hclog.Logger, life context.Context) *agentPlugin {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if life == nil {
		life = context.Background()
	}
	return &agentPlugin{impl: a, logger: logger, life: life}
}

// grpcServer implements the wire service by calling the agent.
type grpcServer struct {
	agentpb.UnimplementedAgentServer
	impl   Agent
	logger hclog.Logger
	life   context.Context
	tasks  *sync.WaitGroup
}

func unimplemented(what string) error {
	return status.Errorf(codes.Unimplemented, "agent does not implement %s", what)
}

func (s *grpcServer) Info(ctx context.Context, _ *agentpb.InfoRequest) (*agentpb.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, err
	}
	if len(info.APIVersions) == 0 {
		info.APIVersions = []string{APIVersionLatest}
	}
	resp := infoToProto(info, Implements(s.impl))
	_, resp.ExecuteBatch = s.impl.(Executor)
	return resp, nil
}

func (s *grpcServer) Schema(ctx context.Context, _ *agentpb.SchemaRequest) (*agentpb.SchemaResponse, error) {
	sc, err := s.impl.Schema(ctx)
	if err != nil {
		return nil, err
	}
	return schemaToProto(sc)
}

func (s *grpcServer) Configure(ctx context.Context, req *agentpb.ConfigureRequest) (*agentpb.ConfigureResponse, error) {
	if err := s.impl.Configure(ctx, configFromProto(req)); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &agentpb.ConfigureResponse{}, nil
}

func (s *grpcServer) Health(ctx context.Context, _ *agentpb.HealthRequest) (*agentpb.HealthResponse, error) {
	h, ok := s.impl.(HealthChecker)
	if !ok {
		return &agentpb.HealthResponse{Healthy: true}, nil
	}
	if err := h.Health(ctx); err != nil {
		return &agentpb.HealthResponse{Healthy: false, Message: err.Error()}, nil
	}
	return &agentpb.HealthResponse{Healthy: true}, nil
}

func (s *grpcServer) Fingerprint(_ *agentpb.FingerprintRequest, stream agentpb.Agent_FingerprintServer) error {
	f, ok := s.impl.(Fingerprinter)
	if !ok {
		return unimplemented("Fingerprint")
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	ch, err := f.Fingerprint(ctx)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case fp, ok := <-ch:
			if !ok {
				return nil
			}
			if err := stream.Send(fingerprintToProto(fp)); err != nil {
				return err
			}
		}
	}
}

func (s *grpcServer) PriceSchedule(ctx context.Context, _ *agentpb.PriceScheduleRequest) (*agentpb.PriceScheduleResponse, error) {
	p, ok := s.impl.(PriceScheduler)
	if !ok {
		return nil, unimplemented("PriceSchedule")
	}
	ps, err := p.PriceSchedule(ctx)
	if err != nil {
		return nil, err
	}
	return priceScheduleToProto(ps), nil
}

func (s *grpcServer) Attest(ctx context.Context, _ *agentpb.AttestRequest) (*agentpb.AttestResponse, error) {
	a, ok := s.impl.(Attester)
	if !ok {
		return nil, unimplemented("Attest")
	}
	at, err := a.Attest(ctx)
	if err != nil {
		return nil, err
	}
	return attestationsToProto(at), nil
}

type taskKey struct {
	job     string
	attempt uint32
}

// Limits of one batched response. A single outcome larger than
// maxBatchBytes still goes out, alone.
const (
	maxBatchBytes = 1 << 20
	maxBatchItems = 4096
)

// outbox is the execute stream's writer: task goroutines queue outcomes
// and one writer goroutine sends them. Each round it takes the whole queue,
// so a lone outcome leaves at once and the outcomes that finish while a
// message is being written share the next one; there is no timer.
//
// A woken writer first yields once. The waker has just made it the next
// goroutine to run, ahead of the task goroutines that are about to finish
// too; without the yield it would send one outcome per message. The yield
// only lets goroutines that are already runnable go first.
type outbox struct {
	stream agentpb.Agent_ExecuteServer
	logger hclog.Logger
	// batched is set once the host has sent a batched request: only then
	// does it read batched responses.
	batched atomic.Bool

	mu      sync.Mutex
	queue   []*agentpb.Outcome
	closing bool
	wake    chan struct{}
	done    chan struct{}
}

func newOutbox(stream agentpb.Agent_ExecuteServer, logger hclog.Logger) *outbox {
	o := &outbox{stream: stream, logger: logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go o.run()
	return o
}

// put queues one outcome for the writer. An outcome too large for the
// host to receive becomes an error outcome: sent as it is, it would end
// the stream and every other task on it.
func (o *outbox) put(oc *agentpb.Outcome) {
	validUTF8(oc)
	if outcomeSize(oc) > MaxMessageBytes-64<<10 {
		if n := proto.Size(oc) + 16; n > MaxMessageBytes {
			o.logger.Warn("execute: result too large for the transport", "job", oc.JobId, "attempt", oc.Attempt, "bytes", n)
			oc = &agentpb.Outcome{JobId: oc.JobId, Attempt: oc.Attempt,
				Error: fmt.Sprintf("result is %d bytes encoded, over the plugin transport's limit of %d", n, MaxMessageBytes)}
		}
	}
	o.mu.Lock()
	o.queue = append(o.queue, oc)
	o.mu.Unlock()
	o.kick()
}

// validUTF8 replaces invalid UTF-8 in an outcome's strings (a command's
// output may be any bytes): proto strings must be UTF-8, and a message
// that fails to encode ends the stream.
func validUTF8(oc *agentpb.Outcome) {
	fix := func(s *string) {
		if !utf8.ValidString(*s) {
			*s = strings.ToValidUTF8(*s, "\uFFFD")
		}
	}
	fix(&oc.Error)
	if r := oc.Result; r != nil {
		fix(&r.Output)
		fix(&r.Error)
		for k, v := range r.Usage {
			if !utf8.ValidString(k) {
				delete(r.Usage, k)
				r.Usage[strings.ToValidUTF8(k, "\uFFFD")] = v
			}
		}
	}
}

func (o *outbox) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// close sends what is queued and stops the writer. Nothing may be put
// after it.
func (o *outbox) close() {
	o.mu.Lock()
	o.closing = true
	o.mu.Unlock()
	o.kick()
	<-o.done
}

func (o *outbox) run() {
	defer close(o.done)
	var buf []*agentpb.Outcome
	for range o.wake {
		runtime.Gosched()
		for {
			o.mu.Lock()
			buf, o.queue = o.queue, buf[:0]
			closing := o.closing
			o.mu.Unlock()
			if len(buf) == 0 {
				if closing {
					return
				}
				break
			}
			o.write(buf)
			clear(buf)
		}
	}
}

func (o *outbox) write(batch []*agentpb.Outcome) {
	if !o.batched.Load() {
		for _, oc := range batch {
			o.send(&agentpb.ExecuteResponse{JobId: oc.JobId, Attempt: oc.Attempt, Result: oc.Result,
				Error: oc.Error, Cancelled: oc.Cancelled}, 1)
		}
		return
	}
	for len(batch) > 0 {
		n := responseLen(batch)
		// A fresh slice: the queue's buffer is reused once Send returns,
		// and a sent message must not change.
		o.send(&agentpb.ExecuteResponse{Outcomes: slices.Clone(batch[:n])}, n)
		batch = batch[n:]
	}
}

// responseLen is how many of the outcomes (at least one) one batched
// response carries, within the size and count limits.
func responseLen(batch []*agentpb.Outcome) int {
	n, size := 0, 0
	for ; n < len(batch) && n < maxBatchItems; n++ {
		sz := outcomeSize(batch[n])
		if n > 0 && size+sz > maxBatchBytes {
			break
		}
		size += sz
	}
	return n
}

func (o *outbox) send(m *agentpb.ExecuteResponse, n int) {
	if err := o.stream.Send(m); err != nil {
		o.logger.Debug("execute: send results failed", "results", n, "error", err)
	}
}

// outcomeSize is an upper estimate of an outcome's encoded size.
func outcomeSize(oc *agentpb.Outcome) int {
	n := 64 + len(oc.JobId) + len(oc.Error)
	if r := oc.Result; r != nil {
		n += len(r.Output) + len(r.Error)
		for k := range r.Usage {
			n += len(k) + 16
		}
	}
	return n
}

// Execute runs each received task concurrently. A cancel message or the end
// of the stream's context cancels the task's context; a half-close from the
// host lets running tasks finish and report before the stream ends.
// Requests come one task or cancel per message, or batched (see the proto).
func (s *grpcServer) Execute(stream agentpb.Agent_ExecuteServer) error {
	ex, ok := s.impl.(Executor)
	if !ok {
		return unimplemented("Execute")
	}
	// Tasks end with the stream or with the plugin's life.
	ctx, cancelAll := context.WithCancel(stream.Context())
	defer cancelAll()
	stopLife := context.AfterFunc(s.life, cancelAll)
	defer stopLife()

	x := &execSession{
		ctx: ctx, ex: ex, tasks: s.tasks,
		out:     newOutbox(stream, s.logger),
		running: map[taskKey]context.CancelFunc{},
	}
	// end waits for the running tasks and sends the last outcomes.
	end := func() {
		x.wg.Wait()
		x.out.close()
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// The host sends no more tasks: let running ones finish.
				end()
				return nil
			}
			cancelAll()
			end()
			return err
		}
		switch m := req.GetMsg().(type) {
		case *agentpb.ExecuteRequest_Task:
			x.start(m.Task)
		case *agentpb.ExecuteRequest_Cancel:
			x.stop(m.Cancel)
		}
		tasks, cancels := req.GetTasks(), req.GetCancels()
		if (len(tasks) > 0 || len(cancels) > 0) && !x.out.batched.Load() {
			x.out.batched.Store(true)
		}
		for _, t := range tasks {
			x.start(t)
		}
		for _, c := range cancels {
			x.stop(c)
		}
	}
}

// execSession is one execute stream's running tasks.
type execSession struct {
	ctx   context.Context
	ex    Executor
	out   *outbox
	tasks *sync.WaitGroup // the plugin's count of running tasks
	wg    sync.WaitGroup  // this stream's running tasks

	mu      sync.Mutex
	running map[taskKey]context.CancelFunc
}

// taskRun is one running task.
type taskRun struct {
	task   Task
	ctx    context.Context
	cancel context.CancelFunc
}

func (x *execSession) start(pt *agentpb.Task) {
	key := taskKey{pt.GetJobId(), pt.GetAttempt()}
	x.mu.Lock()
	if _, dup := x.running[key]; dup {
		x.mu.Unlock()
		x.out.put(&agentpb.Outcome{JobId: key.job, Attempt: key.attempt,
			Error: fmt.Sprintf("job %s attempt %d is already running", key.job, key.attempt)})
		return
	}
	r := &taskRun{task: taskFromProto(pt)}
	r.ctx, r.cancel = context.WithCancel(x.ctx)
	x.running[key] = r.cancel
	x.mu.Unlock()
	x.wg.Add(1)
	x.tasks.Add(1)
	go x.run(r)
}

func (x *execSession) stop(c *agentpb.Cancel) {
	x.mu.Lock()
	if cancel, ok := x.running[taskKey{c.GetJobId(), c.GetAttempt()}]; ok {
		cancel()
	}
	x.mu.Unlock()
}

// run is a task's goroutine. It keeps its own frame small (no defers, the
// task by pointer) so that the agent's Execute starts with most of a new
// goroutine's stack to itself.
func (x *execSession) run(r *taskRun) {
	res, err := runTask(r.ctx, x.ex, &r.task)
	x.finish(r, &res, err)
	x.tasks.Done()
	x.wg.Done()
}

// finish reports a task's outcome.
//
//go:noinline
func (x *execSession) finish(r *taskRun, res *Result, err error) {
	cancelled := r.ctx.Err() != nil && x.ctx.Err() == nil
	r.cancel()
	x.mu.Lock()
	delete(x.running, taskKey{r.task.JobID, r.task.Attempt})
	x.mu.Unlock()
	// One allocation for the outcome and its result.
	b := &struct {
		oc  agentpb.Outcome
		res agentpb.Result
	}{}
	oc := &b.oc
	oc.JobId, oc.Attempt, oc.Cancelled = r.task.JobID, r.task.Attempt, cancelled
	if err != nil {
		oc.Error = err.Error()
	} else {
		fillResult(&b.res, res)
		oc.Result = &b.res
	}
	x.out.put(oc)
}

// runTask calls the executor and turns a panic into an error, so one bad
// task does not take the plugin down with every other running task.
func runTask(ctx context.Context, ex Executor, task *Task) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrTaskPanicked, r)
		}
	}()
	return ex.Execute(ctx, *task)
}

var _ plugin.GRPCPlugin = (*agentPlugin)(nil)
var _ agentpb.AgentServer = (*grpcServer)(nil)
