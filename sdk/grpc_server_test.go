package sdk

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/planetary/planetary/sdk/internal/agentpb"
)

// waitAgent executes instantly, or for the payload "wait" until its task is
// cancelled.
type waitAgent struct{}

func (waitAgent) Info(context.Context) (Info, error) {
	return Info{Name: "wait", Version: "1"}, nil
}
func (waitAgent) Schema(context.Context) (Schema, error)  { return Schema{}, nil }
func (waitAgent) Configure(context.Context, Config) error { return nil }
func (waitAgent) Execute(ctx context.Context, t Task) (Result, error) {
	if string(t.Payload) == "wait" {
		<-ctx.Done()
		return Result{}, ctx.Err()
	}
	return Result{OK: true, Output: t.JobID}, nil
}

// plainAgent has no Executor.
type plainAgent struct{}

func (plainAgent) Info(context.Context) (Info, error)      { return Info{Name: "plain"}, nil }
func (plainAgent) Schema(context.Context) (Schema, error)  { return Schema{}, nil }
func (plainAgent) Configure(context.Context, Config) error { return nil }

// serveAgent serves a over an in-memory gRPC connection.
func serveAgent(t *testing.T, a Agent) agentpb.AgentClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	var tasks sync.WaitGroup
	agentpb.RegisterAgentServer(srv, &grpcServer{impl: a, logger: hclog.NewNullLogger(), life: context.Background(), tasks: &tasks})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return agentpb.NewAgentClient(conn)
}

func TestInfoExecuteBatch(t *testing.T) {
	tests := []struct {
		name  string
		agent Agent
		want  bool
	}{
		{"executor", waitAgent{}, true},
		{"no executor", plainAgent{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := serveAgent(t, tt.agent).Info(context.Background(), &agentpb.InfoRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetExecuteBatch() != tt.want {
				t.Fatalf("execute_batch = %v, want %v", resp.GetExecuteBatch(), tt.want)
			}
		})
	}
}

// outcome is one result as read off either response form.
type outcome struct {
	job       string
	err       string
	cancelled bool
	ok        bool
}

func taskReq(jobs ...string) []*agentpb.Task {
	var out []*agentpb.Task
	for _, j := range jobs {
		job, payload, _ := strings.Cut(j, ":")
		out = append(out, &agentpb.Task{JobId: job, Attempt: 1, Payload: []byte(payload)})
	}
	return out
}

// The agent reads both request forms, keeps a batch's order (its tasks,
// then its cancels), and answers in the form the host used: one outcome per
// message to a host that sent single items, outcomes in batches otherwise.
func TestExecuteWireForms(t *testing.T) {
	single := func(reqs ...*agentpb.ExecuteRequest) []*agentpb.ExecuteRequest { return reqs }
	tests := []struct {
		name    string
		reqs    []*agentpb.ExecuteRequest
		batched bool // the responses must be batched (else single)
		want    map[string]outcome
		wantDup bool // an "already running" error outcome too
	}{
		{
			name: "single items",
			reqs: single(
				&agentpb.ExecuteRequest{Msg: &agentpb.ExecuteRequest_Task{Task: taskReq("a")[0]}},
				&agentpb.ExecuteRequest{Msg: &agentpb.ExecuteRequest_Task{Task: taskReq("w:wait")[0]}},
				&agentpb.ExecuteRequest{Msg: &agentpb.ExecuteRequest_Cancel{Cancel: &agentpb.Cancel{JobId: "w", Attempt: 1}}},
			),
			want: map[string]outcome{"a": {job: "a", ok: true}, "w": {job: "w", cancelled: true, err: "context canceled"}},
		},
		{
			name: "one batch with its cancel",
			reqs: single(&agentpb.ExecuteRequest{
				Tasks:   taskReq("a", "b", "w:wait"),
				Cancels: []*agentpb.Cancel{{JobId: "w", Attempt: 1}, {JobId: "nope", Attempt: 1}},
			}),
			batched: true,
			want: map[string]outcome{"a": {job: "a", ok: true}, "b": {job: "b", ok: true},
				"w": {job: "w", cancelled: true, err: "context canceled"}},
		},
		{
			name: "a batch with a duplicate, then a cancel",
			reqs: single(
				&agentpb.ExecuteRequest{Tasks: taskReq("w:wait", "w:wait")},
				&agentpb.ExecuteRequest{Cancels: []*agentpb.Cancel{{JobId: "w", Attempt: 1}}},
			),
			batched: true,
			// The duplicate gets an error outcome; the running w is cancelled.
			want:    map[string]outcome{"w": {job: "w", cancelled: true, err: "context canceled"}},
			wantDup: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stream, err := serveAgent(t, waitAgent{}).Execute(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.reqs {
				if err := stream.Send(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			got := map[string]outcome{}
			var dupErr string
			for {
				resp, err := stream.Recv()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatal(err)
					}
					break
				}
				var outs []outcome
				if len(resp.GetOutcomes()) > 0 {
					if !tt.batched || resp.GetJobId() != "" {
						t.Fatalf("batched response %v", resp)
					}
					for _, o := range resp.GetOutcomes() {
						outs = append(outs, outcome{o.GetJobId(), o.GetError(), o.GetCancelled(), o.GetResult().GetOk()})
					}
				} else {
					if tt.batched {
						t.Fatalf("single response %v to a batched request", resp)
					}
					outs = append(outs, outcome{resp.GetJobId(), resp.GetError(), resp.GetCancelled(), resp.GetResult().GetOk()})
				}
				for _, o := range outs {
					if strings.Contains(o.err, "already running") && dupErr == "" {
						dupErr = o.err
						continue
					}
					if _, seen := got[o.job]; seen {
						t.Fatalf("second outcome for %s: %+v", o.job, o)
					}
					got[o.job] = o
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("outcomes %+v, want %+v", got, tt.want)
			}
			for job, w := range tt.want {
				if got[job] != w {
					t.Errorf("%s: %+v, want %+v", job, got[job], w)
				}
			}
			if (dupErr != "") != tt.wantDup {
				t.Fatalf("duplicate error %q, want one: %v", dupErr, tt.wantDup)
			}
		})
	}
}
