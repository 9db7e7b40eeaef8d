package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/core/scheduler"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Server is one planetary server: a raft member, its FSM and event log, and
// the leader loops while it leads.
type Server struct {
	cfg    Config
	logger hclog.Logger

	raft      *raft.Raft
	fsm       *raftfsm.FSM
	events    *eventlog.Log
	trans     raft.Transport
	closers   []func() error
	snapshots raft.SnapshotStore
	sched     *scheduler.Scheduler

	// shutdownCtx ends when Shutdown starts.
	shutdownCtx    context.Context
	shutdownCancel context.CancelFunc
	// raftDown is closed once raft has shut down.
	raftDown     chan struct{}
	wg           sync.WaitGroup
	shutdownOnce sync.Once

	// changed is closed and replaced after every applied entry (watcher).
	changeMu sync.Mutex
	changed  chan struct{}
	// pending is what the leader proposed and has not seen applied (see
	// pendingWork); kick wakes the scheduler when results are proposed.
	pending *pendingWork
	kick    chan struct{}

	// lastNow keeps Now monotonic non-decreasing.
	lastNow atomic.Int64

	submits  *coalescer[command.JobSubmit]
	starts   *coalescer[command.JobAttempt]
	complete *coalescer[command.Result]

	hb *heartbeats

	// leader loop state
	leaderMu     sync.Mutex
	leaderCancel context.CancelFunc
	leaderDone   chan struct{}
	leading      atomic.Bool
	notifyCh     chan bool

	stats     counters
	placement *placementMetrics
	// epStats counts each endpoint's calls (endpoints.go).
	epStats map[string]*endpointStats

	// mem maps raft ids to HTTP API addresses (cluster.go).
	mem members

	// disk records ENOSPC failures of the raft stores (disk.go).
	disk diskWatch

	// gcMu runs one garbage collection pass at a time (gc.go).
	gcMu sync.Mutex

	// replay and ready track the start-up replay (startup.go).
	replay replay
	ready  atomic.Bool

	// halted is set when the FSM stopped at an entry of a newer command
	// format (version.go).
	halted atomic.Pointer[error]
}

// counters are the server's own statistics (see Stats).
type counters struct {
	applies         atomic.Uint64
	applyBytes      atomic.Uint64
	oversized       atomic.Uint64
	submitCalls     atomic.Uint64
	submitEntries   atomic.Uint64
	submitJobs      atomic.Uint64
	resultEntries   atomic.Uint64
	schedRounds     atomic.Uint64
	assigned        atomic.Uint64
	spilled         atomic.Uint64
	parked          atomic.Uint64
	rejected        atomic.Uint64
	heartbeats      atomic.Uint64
	ttlExpiries     atomic.Uint64
	clockAdvances   atomic.Uint64
	scheduleFires   atomic.Uint64
	checkpoints     atomic.Uint64
	checkpointFails atomic.Uint64
}

// New opens the data dir, starts raft and, when configured and the data dir
// holds no raft state, bootstraps a single-node cluster.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	// Raft emits its metrics from its first moments: the sink is in place
	// before any raft starts.
	if _, err := raftMetrics(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("server: create data dir: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		logger:    cfg.Logger.Named("server"),
		changed:   make(chan struct{}),
		pending:   newPendingWork(),
		kick:      make(chan struct{}, 1),
		raftDown:  make(chan struct{}),
		placement: newPlacementMetrics(),
		epStats:   newEndpointStats(),
	}
	s.disk.s = s
	s.shutdownCtx, s.shutdownCancel = context.WithCancel(context.Background())
	s.sched = scheduler.New(scheduler.Config{Logger: cfg.Logger, SpillGrace: 2 * cfg.HeartbeatTTL})
	s.hb = newHeartbeats(s)

	ecfg := eventlog.DefaultConfig(filepath.Join(cfg.DataDir, "events"))
	ecfg.Logger = cfg.Logger
	ecfg.Retention = cfg.EventRetention
	ecfg.WrapFile = cfg.WrapEventFile
	if cfg.EventSegmentBytes > 0 {
		ecfg.SegmentBytes = cfg.EventSegmentBytes
	}
	if dir := ecfg.Retention.ArchiveDir; dir != "" {
		abs, err := s.resolveAllowed(dir)
		if err != nil {
			return nil, fmt.Errorf("server: event retention archive_dir: %w", err)
		}
		ecfg.Retention.ArchiveDir = abs
	}
	ev, err := eventlog.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("server: open event log: %w", err)
	}
	s.events = ev
	s.closers = append(s.closers, ev.Close)
	s.fsm = raftfsm.New(raftfsm.Config{Logger: cfg.Logger, Events: ev, MaxVersion: s.formatVersion(), OnHalt: s.onHalt})

	if err := s.setupRaft(); err != nil {
		s.closeAll()
		return nil, err
	}

	s.submits = newCoalescer(s, "submit", cfg.MaxEntryJobs, func(items []command.JobSubmit) (command.MessageType, marshaler) {
		return command.SubmitBatchType, &command.SubmitBatch{Time: s.Now(), Jobs: items}
	}, &s.stats.submitEntries)
	s.starts = newCoalescer(s, "start", cfg.MaxEntryJobs, func(items []command.JobAttempt) (command.MessageType, marshaler) {
		return command.StartBatchType, &command.StartBatch{Time: s.Now(), Jobs: items}
	}, &s.stats.resultEntries)
	s.complete = newCoalescer(s, "complete", cfg.MaxEntryJobs, func(items []command.Result) (command.MessageType, marshaler) {
		return command.CompleteBatchType, &command.CompleteBatch{Time: s.Now(), MaxAttempts: s.cfg.MaxAttempts, Results: items}
	}, &s.stats.resultEntries)
	// Results in raft's queue free their slots for the scheduler at once:
	// their entry precedes any assignment planned from then on.
	s.complete.proposed = func(items []command.Result) any {
		set := s.pending.addResults(items)
		select {
		case s.kick <- struct{}{}:
		default:
		}
		return set
	}
	s.complete.settled = func(tok any) { s.pending.removeResults(tok.(*resultSet)) }
	for _, c := range []interface{ run(context.Context) }{s.submits, s.starts, s.complete} {
		s.goRun(c.run)
	}
	s.goRun(s.watchApplied)
	s.goRun(s.watchReplay)
	s.goRun(s.monitorLeadership)
	return s, nil
}

func (s *Server) goRun(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.shutdownCtx)
	}()
}

func (s *Server) setupRaft() error {
	cfg := s.cfg
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = cfg.Logger.Named("raft")
	rc.BatchApplyCh = true
	// Entries are coalesced batches of up to MaxEntryJobs items (up to a few
	// hundred KB), so one AppendEntries RPC and one batched disk write of
	// 64 entries stays in the tens of MB; small control entries batch freely.
	rc.MaxAppendEntries = 64
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.SnapshotInterval = cfg.SnapshotInterval
	notify := make(chan bool, 16)
	rc.NotifyCh = notify
	if cfg.InMemory {
		rc.HeartbeatTimeout = 50 * time.Millisecond
		rc.ElectionTimeout = 50 * time.Millisecond
		rc.LeaderLeaseTimeout = 50 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}
	if cfg.RaftHeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.RaftHeartbeatTimeout
		// Half the heartbeat timeout, as raft's defaults (1s, 500ms) have it.
		rc.LeaderLeaseTimeout = cfg.RaftHeartbeatTimeout / 2
	}
	if cfg.RaftElectionTimeout > 0 {
		rc.ElectionTimeout = cfg.RaftElectionTimeout
	}
	s.notifyCh = notify

	var (
		logs    raft.LogStore
		stable  raft.StableStore
		checked *checkedSnapshots
	)
	if cfg.InMemory {
		store := raft.NewInmemStore()
		logs, stable = store, store
		s.snapshots = raft.NewInmemSnapshotStore()
		_, t := raft.NewInmemTransport(raft.ServerAddress(cfg.NodeID))
		s.trans = t
	} else {
		bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db"), NoSync: false})
		if err != nil {
			return fmt.Errorf("server: open raft store: %w", err)
		}
		s.closers = append(s.closers, bolt.Close)
		stable = diskStableStore{StableStore: bolt, d: &s.disk}
		var durable raft.LogStore = bolt
		if cfg.WrapLogStore != nil {
			durable = cfg.WrapLogStore(durable)
		}
		// A small cache keeps recent entries off the disk for followers and
		// the FSM; the bolt store remains the durable log. Write errors
		// below it are watched for a full disk.
		cached, err := raft.NewLogCache(128, diskLogStore{LogStore: durable, d: &s.disk})
		if err != nil {
			return fmt.Errorf("server: log cache: %w", err)
		}
		logs = cached
		s.removeLeftovers()
		snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.DataDir, "snapshots"), 2, cfg.Logger.Named("snapshots"))
		if err != nil {
			return fmt.Errorf("server: snapshot store: %w", err)
		}
		checked = &checkedSnapshots{SnapshotStore: snaps, logs: bolt}
		checked.starting.Store(true)
		s.snapshots = checked
		// Without AdvertiseAddr raft advertises the listener's address
		// (which also resolves a ":0" port).
		var advAddr net.Addr
		if cfg.AdvertiseAddr != "" {
			a, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
			if err != nil {
				return fmt.Errorf("server: advertise addr: %w", err)
			}
			advAddr = a
		}
		stream, err := newStreamLayer(cfg.BindAddr, advAddr, cfg.RaftTLS, cfg.RaftDial)
		if err != nil {
			return fmt.Errorf("server: raft transport: %w", err)
		}
		t := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: cfg.Logger.Named("transport"),
		})
		s.trans = t
		s.closers = append(s.closers, t.Close)
	}

	existing, err := raft.HasExistingState(logs, stable, s.snapshots)
	if err != nil {
		return fmt.Errorf("server: inspect raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, s.fsm, logs, stable, s.snapshots, s.trans)
	if checked != nil {
		if err := s.snapshotOutcome(checked, err); err != nil {
			if r != nil {
				_ = r.Shutdown().Error()
			}
			return err
		}
	} else if err != nil {
		return fmt.Errorf("server: start raft: %w", err)
	}
	s.raft = r
	s.initReplay(logs)
	if cfg.Bootstrap && !existing {
		s.logger.Info("bootstrapping single-node cluster", "id", cfg.NodeID, "addr", s.trans.LocalAddr())
		f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: rc.LocalID, Address: s.trans.LocalAddr(),
		}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("server: bootstrap: %w", err)
		}
	}
	s.campaignIfSole(rc)
	return nil
}

// campaignIfSole starts the election at once when this server is the only
// voter of its configuration: nobody else can lead, so waiting out the
// heartbeat timeout (1-2 s with raft's defaults) only delays the start of a
// single-server agent and its restart. Lowering the heartbeat timeout through
// ReloadConfig makes a follower re-check its timer immediately; the timeout
// is then put back, so the timers of a cluster this server may later grow
// into are raft's own.
func (s *Server) campaignIfSole(rc *raft.Config) {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	voters := 0
	self := false
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			voters++
			self = self || srv.ID == rc.LocalID
		}
	}
	if voters != 1 || !self || rc.HeartbeatTimeout <= time.Millisecond {
		return
	}
	reload := raft.ReloadableConfig{
		TrailingLogs:      rc.TrailingLogs,
		SnapshotInterval:  rc.SnapshotInterval,
		SnapshotThreshold: rc.SnapshotThreshold,
		HeartbeatTimeout:  rc.HeartbeatTimeout - time.Millisecond,
		ElectionTimeout:   rc.ElectionTimeout,
	}
	if err := s.raft.ReloadConfig(reload); err != nil {
		s.logger.Debug("could not start the sole voter's election early", "error", err)
		return
	}
	reload.HeartbeatTimeout = rc.HeartbeatTimeout
	if err := s.raft.ReloadConfig(reload); err != nil {
		s.logger.Warn("could not restore raft's heartbeat timeout", "error", err)
	}
}

// Shutdown stops the leader loops, raft and the event log (flushing it).
func (s *Server) Shutdown() error {
	var err error
	s.shutdownOnce.Do(func() {
		s.shutdownCancel()
		s.stopLeader()
		if s.raft != nil {
			if e := s.raft.Shutdown().Error(); e != nil {
				err = fmt.Errorf("server: raft shutdown: %w", e)
			}
		}
		close(s.raftDown)
		s.wg.Wait()
		if e := s.closeAll(); e != nil && err == nil {
			err = e
		}
	})
	return err
}

func (s *Server) closeAll() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	s.closers = nil
	return first
}

// IsLeader reports whether this server is the raft leader.
func (s *Server) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the current leader's raft address and id (empty if none).
func (s *Server) Leader() (addr, id string) {
	a, i := s.raft.LeaderWithID()
	return string(a), string(i)
}

// WaitLeader blocks until the cluster has a leader, or ctx ends.
func (s *Server) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if a, _ := s.raft.LeaderWithID(); a != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.shutdownCtx.Done():
			return ErrShutdown
		case <-t.C:
		}
	}
}

// Read runs fn on the local FSM state (possibly stale on a follower). fn must
// not retain the store or call its write methods.
func (s *Server) Read(fn func(*state.Store)) { s.fsm.Read(fn) }

// ConsistentRead confirms leadership and waits until every entry committed
// before the call is applied, then runs fn: a linearizable read.
func (s *Server) ConsistentRead(ctx context.Context, fn func(*state.Store)) error {
	if err := s.WaitReady(ctx); err != nil {
		return err
	}
	if err := s.waitFuture(ctx, s.raft.VerifyLeader()); err != nil {
		return mapRaftErr(err)
	}
	// The commit index now covers everything committed before the call.
	if err := s.fsm.WaitIndex(ctx, s.raft.CommitIndex()); err != nil {
		return err
	}
	s.fsm.Read(fn)
	return nil
}

// Events returns the event log.
func (s *Server) Events() *eventlog.Log { return s.events }

var _ raftfsm.SnapshotCovered = (*eventlog.Log)(nil)

// Now returns the leader clock in Unix nanoseconds: wall time, never going
// backwards, and never behind the times already committed.
func (s *Server) Now() int64 {
	now := time.Now().UnixNano()
	for {
		last := s.lastNow.Load()
		if now <= last {
			return last
		}
		if s.lastNow.CompareAndSwap(last, now) {
			return now
		}
	}
}

// floorNow raises the clock to at least t.
func (s *Server) floorNow(t int64) {
	for {
		last := s.lastNow.Load()
		if t <= last || s.lastNow.CompareAndSwap(last, t) {
			return
		}
	}
}

// AppliedIndex is the last raft index applied to the FSM.
func (s *Server) AppliedIndex() uint64 { return s.fsm.AppliedIndex() }

// WaitIndex blocks until the FSM has applied idx or ctx ends (the wait of
// the API's blocking queries).
func (s *Server) WaitIndex(ctx context.Context, idx uint64) error { return s.fsm.WaitIndex(ctx, idx) }

// LastIndex is the last raft index stored in the log.
func (s *Server) LastIndex() uint64 { return s.raft.LastIndex() }

// Peer is one raft server of the cluster.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
}

// Peers returns the raft configuration.
func (s *Server) Peers() ([]Peer, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("server: raft configuration: %w", err)
	}
	_, lid := s.raft.LeaderWithID()
	var out []Peer
	for _, sv := range f.Configuration().Servers {
		out = append(out, Peer{ID: string(sv.ID), Address: string(sv.Address), Suffrage: sv.Suffrage.String(), Leader: sv.ID == lid})
	}
	return out, nil
}

// Stats are counters of this server, plus raft's own stats.
type Stats struct {
	Raft map[string]string `json:"raft"`

	Applies       uint64 `json:"applies"`
	ApplyBytes    uint64 `json:"apply_bytes"`
	Oversized     uint64 `json:"oversized_entries"`
	SubmitCalls   uint64 `json:"submit_calls"`
	SubmitEntries uint64 `json:"submit_entries"`
	SubmitJobs    uint64 `json:"submit_jobs"`
	ResultEntries uint64 `json:"result_entries"`
	SchedRounds   uint64 `json:"scheduler_rounds"`
	Assigned      uint64 `json:"assigned"`
	Spilled       uint64 `json:"spilled"`
	Parked        uint64 `json:"parked"`
	Rejected      uint64 `json:"rejected_decisions"`
	Heartbeats    uint64 `json:"heartbeats"`
	TTLExpiries   uint64 `json:"ttl_expiries"`
	ClockAdvances uint64 `json:"clock_advances"`
	ScheduleFires uint64 `json:"schedule_fires"`
	Checkpoints   uint64 `json:"checkpoints"`
	CheckpointErr uint64 `json:"checkpoint_failures"`
	EventsHead    uint64 `json:"events_head"`
	EventsDurable uint64 `json:"events_durable"`
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	head, _ := s.events.Head()
	return Stats{
		Raft:          s.raft.Stats(),
		Applies:       c.applies.Load(),
		ApplyBytes:    c.applyBytes.Load(),
		Oversized:     c.oversized.Load(),
		SubmitCalls:   c.submitCalls.Load(),
		SubmitEntries: c.submitEntries.Load(),
		SubmitJobs:    c.submitJobs.Load(),
		ResultEntries: c.resultEntries.Load(),
		SchedRounds:   c.schedRounds.Load(),
		Assigned:      c.assigned.Load(),
		Spilled:       c.spilled.Load(),
		Parked:        c.parked.Load(),
		Rejected:      c.rejected.Load(),
		Heartbeats:    c.heartbeats.Load(),
		TTLExpiries:   c.ttlExpiries.Load(),
		ClockAdvances: c.clockAdvances.Load(),
		ScheduleFires: c.scheduleFires.Load(),
		Checkpoints:   c.checkpoints.Load(),
		CheckpointErr: c.checkpointFails.Load(),
		EventsHead:    head,
		EventsDurable: s.events.Durable(),
	}
}

// watchApplied bumps the change notification after every applied entry, on
// leader and followers alike.
func (s *Server) watchApplied(ctx context.Context) {
	for {
		idx := s.fsm.AppliedIndex()
		if err := s.fsm.WaitIndex(ctx, idx+1); err != nil {
			return
		}
		s.changeMu.Lock()
		close(s.changed)
		s.changed = make(chan struct{})
		s.changeMu.Unlock()
	}
}

// changes returns a channel closed at the next applied entry.
func (s *Server) changes() <-chan struct{} {
	s.changeMu.Lock()
	defer s.changeMu.Unlock()
	return s.changed
}

// waitFuture waits for a raft future, ctx, or raft's shutdown. A future
// raft had not taken from its apply queue when it shut down is never
// answered (with BatchApplyCh the queue is buffered, and nothing drains it
// after shutdown): once raft is down, such a wait ends with
// raft.ErrRaftShutdown instead of blocking forever.
func (s *Server) waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.raftDown:
		// raft has answered everything it ever will: an answered future's
		// wait returns as soon as it is scheduled.
		t := time.NewTimer(100 * time.Millisecond)
		defer t.Stop()
		select {
		case err := <-done:
			return err
		case <-t.C:
			return raft.ErrRaftShutdown
		}
	}
}

func mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrShutdown, err)
	}
	return err
}

// AddVoter adds a server to the raft configuration (leader only).
func (s *Server) AddVoter(ctx context.Context, id, addr string) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	if err := s.waitFuture(ctx, s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, s.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("server: add voter %s: %w", id, mapRaftErr(err))
	}
	return nil
}

// RemoveServer removes a server from the raft configuration (leader only).
func (s *Server) RemoveServer(ctx context.Context, id string) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	if err := s.waitFuture(ctx, s.raft.RemoveServer(raft.ServerID(id), 0, s.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("server: remove server %s: %w", id, mapRaftErr(err))
	}
	return nil
}

// LocalAddr is this server's raft address.
func (s *Server) LocalAddr() string { return string(s.trans.LocalAddr()) }
