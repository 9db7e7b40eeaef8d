// Package server is planetary's server role: a raft member (raft-boltdb log
// and stable store, FileSnapshotStore, TCP transport) around the raftfsm FSM,
// the single raftApply choke point every command goes through, the
// coalescers that pack many callers' submissions and results into one entry,
// the client protocol (registration, heartbeats, assignment streams, results)
// and, on the leader only, the leader loops: scheduler, heartbeat TTLs,
// mission clock, owner schedule and checkpoints.
//
// Every outcome of a leader loop is a raft command; nothing here edits FSM
// state directly. Apply never reads a clock: the leader stamps Time into each
// command from Now().
package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/raftfsm/command"
)

// Errors returned by the server.
var (
	// ErrNotLeader is returned by calls that must run on the leader.
	ErrNotLeader = errors.New("server: not the leader")
	// ErrPathNotAllowed is returned by CheckPath for a path outside every
	// allowed root.
	ErrPathNotAllowed = errors.New("server: path not under an allowed root")
	// ErrShutdown is returned by calls on a server that is shutting down.
	ErrShutdown = errors.New("server: shut down")
	// ErrBadArchive is returned for a snapshot archive that is malformed or
	// whose checksums do not match.
	ErrBadArchive = errors.New("server: bad snapshot archive")
	// ErrNoCheckpointPath is returned by Checkpoint when the policy has no
	// export path.
	ErrNoCheckpointPath = errors.New("server: no checkpoint path configured")
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("server: invalid config")
)

// Config configures a Server.
type Config struct {
	// NodeID is this server's raft id.
	NodeID string
	// DataDir holds raft.db (log + stable store), snapshots/ and events/.
	DataDir string
	// BindAddr is the raft TCP address (host:port). Unused when InMemory.
	BindAddr string
	// AdvertiseAddr is the raft address peers dial; defaults to BindAddr.
	AdvertiseAddr string
	// Bootstrap makes this server bootstrap a single-node cluster when its
	// data dir holds no raft state. It is never re-bootstrapped on restart.
	Bootstrap bool
	// InMemory uses raft's in-memory transport, log store and snapshot store
	// (tests). DataDir still holds the event log.
	InMemory bool
	Logger   hclog.Logger
	// WrapLogStore, when set, wraps the on-disk raft log store (fault
	// injection in tests: a store that fails with ENOSPC). nil in use.
	WrapLogStore func(raft.LogStore) raft.LogStore
	// WrapEventFile, when set, wraps each event log segment file the
	// writer opens (fault injection in tests: eventlog.FullDisk). nil in
	// use.
	WrapEventFile func(eventlog.File) eventlog.File

	// AllowedRoots are the directories under which owner commands may write
	// checkpoints and reports (CheckPath).
	AllowedRoots []string
	// PathBase is the directory a relative checkpoint path, event archive
	// directory or allowed root resolves against: the agent's data dir. Empty
	// means the working directory.
	PathBase string

	// HeartbeatTTL is how long a node may go without a heartbeat before the
	// leader commits it Down.
	HeartbeatTTL time.Duration
	// HeartbeatGrace is the TTL granted to every node when this server gains
	// leadership, so a failover does not mark nodes down. 0 means
	// HeartbeatTTL.
	HeartbeatGrace time.Duration
	// MaxAttempts is the attempt cap stamped into every job submitted
	// without one when the mission names none (a retryable failure, or the
	// loss of its node, at this attempt fails the job), and into
	// CompleteBatch for jobs that predate the per-job cap.
	MaxAttempts uint32
	// ClockTick is the mission clock's advance period.
	ClockTick time.Duration
	// SchedulerTick is the slow wake-up of the scheduler loop (it is also
	// woken by every applied entry).
	SchedulerTick time.Duration

	// SnapshotThreshold and TrailingLogs bound the raft log kept on disk and
	// in memory, in entries. Entries are bounded in size by MaxEntryJobs (a
	// 1,000-job SubmitBatch with small payloads is ~200-300 KB; control
	// entries are well under 1 KB), so with the defaults the kept log is at
	// most (SnapshotThreshold + TrailingLogs) * MaxEntryBytes = 640 * ~300 KB
	// ~= 190 MB in the worst case and a few MB in a typical mix. Lower both if
	// jobs carry large payloads.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotInterval is how often raft checks SnapshotThreshold.
	SnapshotInterval time.Duration
	// EventRetention bounds the event log in DataDir/events (the zero
	// value keeps every segment). Segments are pruned only behind a durable
	// raft snapshot; an ArchiveDir must lie under AllowedRoots.
	EventRetention eventlog.Retention
	// EventSegmentBytes is the size at which the event log starts a new
	// segment (0: eventlog's default, 64 MiB).
	EventSegmentBytes int64
	// MaxEntryJobs bounds the jobs (or results) coalesced into one entry.
	MaxEntryJobs int
	// MaxEntryBytes is the entry size above which Apply logs a warning.
	MaxEntryBytes int
	// RaftHeartbeatTimeout and RaftElectionTimeout tune raft's failure
	// detection; 0 keeps raft's defaults (1s each).
	RaftHeartbeatTimeout time.Duration
	RaftElectionTimeout  time.Duration
	// RaftTLS, when set, wraps server-to-server raft traffic in mutual TLS
	// (core/tlsutil.Load): the listener requires a peer certificate signed by
	// the CA and dials present this server's certificate.
	RaftTLS *tls.Config
	// RaftDial, when set, replaces the TCP dialer of the raft transport
	// (tests route peers through proxies they can sever).
	RaftDial func(address string, timeout time.Duration) (net.Conn, error)
	// ApplyTimeout bounds how long Apply waits to enqueue an entry when the
	// caller's ctx has no deadline.
	ApplyTimeout time.Duration
	// FormatVersion is the highest command format version this server
	// claims (command.FormatVersion history): its FSM applies no newer
	// entry, it reports the version to its peers, and as leader it
	// proposes a command only once every server in the raft configuration
	// reports its version (docs/architecture.md, version gate). 0 means
	// command.FormatVersion, all this build knows; a lower value holds
	// this server at an older format (tests play an older build with it).
	FormatVersion uint16
	// Region names the region this server's raft group holds: the name of
	// its own ledger checkpoint among the regions' (docs/architecture.md,
	// global ledger). Empty means state.DefaultRegion.
	Region string
}

// DefaultConfig returns the defaults. NodeID, DataDir and BindAddr must still
// be set.
func DefaultConfig() Config {
	return Config{
		BindAddr:          "127.0.0.1:4648",
		HeartbeatTTL:      15 * time.Second,
		MaxAttempts:       5,
		ClockTick:         100 * time.Millisecond,
		SchedulerTick:     time.Second,
		SnapshotThreshold: 512,
		TrailingLogs:      128,
		SnapshotInterval:  30 * time.Second,
		MaxEntryJobs:      1000,
		MaxEntryBytes:     1 << 20,
		ApplyTimeout:      30 * time.Second,
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.NodeID == "":
		return bad("NodeID is required")
	case c.DataDir == "":
		return bad("DataDir is required")
	case !c.InMemory && c.BindAddr == "":
		return bad("BindAddr is required")
	case c.HeartbeatTTL <= 0:
		return bad("HeartbeatTTL must be positive")
	case c.HeartbeatGrace < 0:
		return bad("HeartbeatGrace must not be negative")
	case c.MaxAttempts == 0:
		return bad("MaxAttempts must be at least 1")
	case c.ClockTick <= 0:
		return bad("ClockTick must be positive")
	case c.SchedulerTick <= 0:
		return bad("SchedulerTick must be positive")
	case c.SnapshotThreshold == 0 || c.TrailingLogs == 0:
		return bad("SnapshotThreshold and TrailingLogs must be positive")
	case c.SnapshotInterval <= 0:
		return bad("SnapshotInterval must be positive")
	case c.MaxEntryJobs <= 0:
		return bad("MaxEntryJobs must be positive")
	case c.MaxEntryBytes <= 0:
		return bad("MaxEntryBytes must be positive")
	case c.ApplyTimeout <= 0:
		return bad("ApplyTimeout must be positive")
	case c.FormatVersion > command.FormatVersion:
		return bad("FormatVersion %d is newer than this build's %d", c.FormatVersion, command.FormatVersion)
	}
	if err := c.EventRetention.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c *Config) grace() time.Duration {
	if c.HeartbeatGrace > 0 {
		return c.HeartbeatGrace
	}
	return c.HeartbeatTTL
}
