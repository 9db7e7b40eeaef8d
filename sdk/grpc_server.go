package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	return infoToProto(info, Implements(s.impl)), nil
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

// Execute runs each received task in its own goroutine. A cancel message or
// the end of the stream's context cancels the task's context; a half-close
// from the host lets running tasks finish and report before the stream ends.
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

	var (
		sendMu  sync.Mutex
		mu      sync.Mutex
		running = map[taskKey]context.CancelFunc{}
		wg      sync.WaitGroup
	)
	send := func(m *agentpb.ExecuteResponse) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if err := stream.Send(m); err != nil {
			s.logger.Debug("execute: send result failed", "job_id", m.JobId, "attempt", m.Attempt, "error", err)
		}
	}

	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// The host sends no more tasks: let running ones finish.
				wg.Wait()
				return nil
			}
			cancelAll()
			wg.Wait()
			return err
		}
		switch m := req.GetMsg().(type) {
		case *agentpb.ExecuteRequest_Task:
			task := taskFromProto(m.Task)
			key := taskKey{task.JobID, task.Attempt}
			mu.Lock()
			if _, dup := running[key]; dup {
				mu.Unlock()
				send(&agentpb.ExecuteResponse{JobId: task.JobID, Attempt: task.Attempt,
					Error: fmt.Sprintf("job %s attempt %d is already running", task.JobID, task.Attempt)})
				continue
			}
			tctx, cancel := context.WithCancel(ctx)
			running[key] = cancel
			mu.Unlock()
			wg.Add(1)
			s.tasks.Add(1)
			go func() {
				defer wg.Done()
				defer s.tasks.Done()
				res, err := runTask(tctx, ex, task)
				cancelled := tctx.Err() != nil && ctx.Err() == nil
				cancel()
				mu.Lock()
				delete(running, key)
				mu.Unlock()
				out := &agentpb.ExecuteResponse{JobId: task.JobID, Attempt: task.Attempt, Cancelled: cancelled}
				if err != nil {
					out.Error = err.Error()
				} else {
					out.Result = resultToProto(res)
				}
				send(out)
			}()
		case *agentpb.ExecuteRequest_Cancel:
			mu.Lock()
			if cancel, ok := running[taskKey{m.Cancel.GetJobId(), m.Cancel.GetAttempt()}]; ok {
				cancel()
			}
			mu.Unlock()
		}
	}
}

// runTask calls the executor and turns a panic into an error, so one bad
// task does not take the plugin down with every other running task.
func runTask(ctx context.Context, ex Executor, task Task) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrTaskPanicked, r)
		}
	}()
	return ex.Execute(ctx, task)
}

var _ plugin.GRPCPlugin = (*agentPlugin)(nil)
var _ agentpb.AgentServer = (*grpcServer)(nil)
