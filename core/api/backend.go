package api

import (
	"context"
	"io"

	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Backend is what the HTTP API needs from a server. *server.Server
// satisfies it; the handlers never reach past it. Writes go through the
// server's endpoints (core/server/endpoints*.go), one method per
// operation, which check and stamp the command; the store is only read.
type Backend interface {
	IsLeader() bool
	Leader() (addr, id string)
	Read(fn func(*state.Store))
	ConsistentRead(ctx context.Context, fn func(*state.Store)) error
	Events() *eventlog.Log
	AppliedIndex() uint64
	// WaitIndex blocks until the FSM has applied idx or ctx ends.
	WaitIndex(ctx context.Context, idx uint64) error
	Peers() ([]server.Peer, error)
	// Region names the region this server's raft group holds (the
	// local region of the global ledger).
	Region() string

	// Endpoints of the fabric (core/server/endpoints_fabric.go).
	RegisterShard(ctx context.Context, a server.Actor, req command.ShardRegister) (server.Result, error)
	UpdateShard(ctx context.Context, a server.Actor, req command.ShardUpdate) (server.Result, error)
	DeregisterShard(ctx context.Context, a server.Actor, req command.ShardDeregister) (server.Result, error)
	RegisterNode(ctx context.Context, a server.Actor, req command.NodeRegister) (server.Result, error)
	UpdateNode(ctx context.Context, a server.Actor, req command.NodeUpdate) (server.Result, error)
	// PublishNodeState is a client's report of its nodes' plugin state.
	PublishNodeState(ctx context.Context, a server.Actor, req command.NodeUpdate) (server.Result, error)
	RetireNode(ctx context.Context, a server.Actor, req command.NodeRetire) (server.Result, error)
	// Command runs a described owner command (core/ownercmd) through its
	// endpoint.
	Command(ctx context.Context, a server.Actor, c command.Command) (server.Result, error)
	// Jobs and the operator's endpoints (core/server/endpoints_ops.go).
	SubmitJobs(ctx context.Context, a server.Actor, jobs []command.JobSubmit) ([]raftfsm.Outcome, error)
	CancelJobs(ctx context.Context, a server.Actor, req command.JobCancel) (server.Result, error)
	Reroute(ctx context.Context, a server.Actor, req command.JobReroute) (server.Result, error)
	Pause(ctx context.Context, a server.Actor, req command.Pause) (server.Result, error)
	ConfigureCheckpoint(ctx context.Context, a server.Actor, req command.CheckpointConfigure) (server.Result, error)
	ConfigureReporting(ctx context.Context, a server.Actor, req command.ReportingConfigure) (server.Result, error)
	SaveCheckpoint(ctx context.Context, a server.Actor) (server.SnapshotInfo, error)
	// ApplyMission checks the paths the mission writes to.
	ApplyMission(ctx context.Context, a server.Actor, req command.MissionApply, paths []server.PathField) (server.Result, error)
	// ACL and client identities: the token's secret is the caller's, its
	// CreatedAt the endpoint's.
	BootstrapACL(ctx context.Context, a server.Actor, tok state.Token) (state.Token, server.Result, error)
	CreateToken(ctx context.Context, a server.Actor, tok state.Token) (state.Token, server.Result, error)
	JoinClient(ctx context.Context, a server.Actor, tok state.Token) (state.Token, server.Result, error)
	RevokeClient(ctx context.Context, a server.Actor, req command.ClientRevoke) (server.Result, error)

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
	// CollectGarbage runs one garbage collection pass (core/server/gc.go).
	CollectGarbage(ctx context.Context, opt server.GCOptions) (server.GCResult, error)
}
