package api

import "github.com/planetary/planetary/core/api/client"

// The wire types of the /v1 API are defined with the Go client in
// core/api/client, a leaf package that links neither raft nor bbolt; the
// handlers speak of them by these aliases.
type (
	Assignment       = client.Assignment
	Attestations     = client.Attestations
	ChainHead        = client.ChainHead
	CheckpointConfig = client.CheckpointConfig
	ClientHeartbeat  = client.ClientHeartbeat
	ClientJoin       = client.ClientJoin
	ClientJoined     = client.ClientJoined
	ClientNodeState  = client.ClientNodeState
	ClientRegister   = client.ClientRegister
	ClientRegistered = client.ClientRegistered
	ClientResults    = client.ClientResults
	ClientRevoke     = client.ClientRevoke
	Counts           = client.Counts
	Deployment       = client.Deployment
	Diagnostic       = client.Diagnostic
	Digest           = client.Digest
	Error            = client.Error
	ErrorBody        = client.ErrorBody
	Event            = client.Event
	EventRetention   = client.EventRetention
	Events           = client.Events
	Flow             = client.Flow
	GCRequest        = client.GCRequest
	GCResult         = client.GCResult
	Health           = client.Health
	Invariant        = client.Invariant
	Job              = client.Job
	JobAttempt       = client.JobAttempt
	JobList          = client.JobList
	JobSubmit        = client.JobSubmit
	LeaderInfo       = client.LeaderInfo
	Ledger           = client.Ledger
	Locator          = client.Locator
	Member           = client.Member
	Mission          = client.Mission
	MissionApplied   = client.MissionApplied
	MissionApply     = client.MissionApply
	Node             = client.Node
	NodeBeat         = client.NodeBeat
	NodeRetire       = client.NodeRetire
	NodeState        = client.NodeState
	NodeStateResult  = client.NodeStateResult
	NodeUpdate       = client.NodeUpdate
	OwnerRequest     = client.OwnerRequest
	PauseRequest     = client.PauseRequest
	Peer             = client.Peer
	PluginState      = client.PluginState
	Price            = client.Price
	PriceRate        = client.PriceRate
	RaftJoin         = client.RaftJoin
	RaftPeerRequest  = client.RaftPeerRequest
	RegionLedger     = client.RegionLedger
	ReportingConfig  = client.ReportingConfig
	RerouteRequest   = client.RerouteRequest
	Resources        = client.Resources
	Result           = client.Result
	ScheduleEntry    = client.ScheduleEntry
	Shard            = client.Shard
	ShardDeregister  = client.ShardDeregister
	ShardUpdate      = client.ShardUpdate
	Snapshot         = client.Snapshot
	SpilloverPolicy  = client.SpilloverPolicy
	StateCount       = client.StateCount
	SubmitResult     = client.SubmitResult
	Token            = client.Token
	TokenRequest     = client.TokenRequest
	WriteResult      = client.WriteResult
)

// Constants of the wire shared with the client.
const (
	MsgpackType  = client.MsgpackType
	IndexHeader  = client.IndexHeader
	RegionHeader = client.RegionHeader
	TokenHeader  = client.TokenHeader
	// IdentityFile is where a client agent keeps its identity, in its data dir.
	IdentityFile = client.IdentityFile

	StatusAccepted  = client.StatusAccepted
	StatusDuplicate = client.StatusDuplicate
	StatusRejected  = client.StatusRejected

	TokenTypeRead           = client.TokenTypeRead
	TokenTypeSubmit         = client.TokenTypeSubmit
	TokenTypeManagement     = client.TokenTypeManagement
	TokenTypeClient         = client.TokenTypeClient
	TokenTypeClientIdentity = client.TokenTypeClientIdentity
)

// ErrWire is returned for a client-protocol message that does not decode.
var ErrWire = client.ErrWire

// Credits converts micro-credits to decimal credits.
func Credits(mu int64) float64 { return client.Credits(mu) }

// Micro converts decimal credits to micro-credits (client.Micro).
func Micro(credits float64) int64 { return client.Micro(credits) }
