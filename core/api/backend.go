package api

import (
	"context"
	"io"

	"github.com/tinylib/msgp/msgp"

	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Backend is what the HTTP API needs from a server. *server.Server
// satisfies it; the handlers never reach past it.
type Backend interface {
	IsLeader() bool
	Leader() (addr, id string)
	Apply(ctx context.Context, t command.MessageType, msg msgp.Marshaler) (*raftfsm.Response, error)
	Submit(ctx context.Context, jobs []command.JobSubmit, submitter string) ([]raftfsm.Outcome, error)
	Read(fn func(*state.Store))
	ConsistentRead(ctx context.Context, fn func(*state.Store)) error
	Events() *eventlog.Log
	Now() int64
	AppliedIndex() uint64
	// WaitIndex blocks until the FSM has applied idx or ctx ends.
	WaitIndex(ctx context.Context, idx uint64) error
	Peers() ([]server.Peer, error)
	CheckPath(path string) error

	RegisterClient(ctx context.Context, client string, nodes []state.Node, kinds []string) ([]string, error)
	Heartbeat(client string, beats []server.NodeBeat) error
	Assignments(ctx context.Context, client string, fn func([]server.Assignment) error) error
	// Control streams a client's control plane (core/server/stream.go).
	Control(ctx context.Context, req server.ControlRequest, fn func(*server.ControlBatch) error) error
	Results(ctx context.Context, client string, started []command.JobAttempt, results []command.Result) error

	// Cluster membership (core/server/cluster.go).
	Self() server.SelfInfo
	WaitReady(ctx context.Context) error
	// Readiness is the start-up replay's progress (core/server/startup.go).
	Readiness() server.Readiness
	// Disk says whether the data dir is full (core/server/disk.go).
	Disk() server.DiskStatus
	Digest() ([32]byte, uint64)
	SetHTTPAddr(id, addr string)
	AddVoter(ctx context.Context, id, addr string) error
	RemoveServer(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error

	SnapshotSave(ctx context.Context, w io.Writer) (server.SnapshotInfo, error)
	SnapshotRestore(ctx context.Context, r io.Reader) error
	Checkpoint(ctx context.Context) (server.SnapshotInfo, error)
	// CollectGarbage runs one garbage collection pass (core/server/gc.go).
	CollectGarbage(ctx context.Context, opt server.GCOptions) (server.GCResult, error)
}
