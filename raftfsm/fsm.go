// Package raftfsm is planetary's replicated state machine: it applies the
// commands of package command to a state.Store, emits hash-chained events and
// takes and restores snapshots (package snapshot). Apply is deterministic: it
// never reads a clock or a random source, does no I/O and iterates no map
// without sorting.
package raftfsm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/snapshot"
	"github.com/planetary/planetary/raftfsm/state"
)

// Business errors returned in Response.Err. The command was applied as a
// no-op (nothing changed) when Err is set.
var (
	ErrUnknownShard    = errors.New("unknown shard")
	ErrUnknownNode     = errors.New("unknown node")
	ErrShardExists     = errors.New("shard already registered")
	ErrShardNotEmpty   = errors.New("shard has jobs: give a spill target or cancel")
	ErrUnknownField    = errors.New("unknown field")
	ErrNodeRetired     = errors.New("node is retired")
	ErrACLBootstrapped = errors.New("ACL already bootstrapped")
	ErrTokenExists     = errors.New("ACL token already exists")
	ErrClientJoined    = errors.New("client already holds an identity")
	ErrClientRevoked   = errors.New("client identity revoked")
	ErrUnknownClient   = errors.New("unknown client")
	ErrInvalid         = errors.New("invalid command")
)

// EventSink receives the events emitted by Apply, in log order.
type EventSink interface {
	// Append is called after each Apply/ApplyBatch; it must buffer, not
	// block, and must not keep evs after it returns (the FSM reuses it).
	Append(evs []state.Event)
	// Sync blocks until events <= seq are durable; Persist calls it first.
	Sync(seq uint64) error
}

// SnapshotCovered is an optional EventSink extension. Covered is called with
// a snapshot's chain head once the snapshot is durable (after Persist closed
// its sink, and after Restore read one from raft's snapshot store): raft no
// longer replays the entries behind it, so the events up to that head may be
// pruned from an event log.
type SnapshotCovered interface {
	Covered(head state.ChainHead)
}

// Config configures an FSM.
type Config struct {
	Logger hclog.Logger
	Events EventSink // may be nil
	// MaxVersion is the highest command format version this FSM applies
	// (0: command.FormatVersion, all this build knows). An entry of a newer
	// version halts it (see Halted).
	MaxVersion uint16
	// OnHalt, when set, is called once, outside the FSM's lock, with the
	// error that halted the FSM. It must not block on raft (it runs on
	// raft's FSM goroutine).
	OnHalt func(err error)
}

// DefaultConfig returns a Config with a null logger and no event sink.
func DefaultConfig() Config { return Config{Logger: hclog.NewNullLogger()} }

// OutcomeStatus is the fate of one item of a batch command.
type OutcomeStatus uint8

const (
	// Applied: the item changed state.
	Applied OutcomeStatus = 1
	// Duplicate: the item was already applied (same key, job and attempt);
	// nothing changed. For submits, ID is the existing job's id.
	Duplicate OutcomeStatus = 2
	// Rejected: the item is stale or invalid (see Reason); nothing changed.
	Rejected OutcomeStatus = 3
)

func (s OutcomeStatus) String() string {
	switch s {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	case Rejected:
		return "rejected"
	}
	return "invalid"
}

// Outcome is the result of one item of a batch, in input order.
type Outcome struct {
	ID     string
	Status OutcomeStatus
	Reason string
}

// Response is what Apply returns for a command entry.
type Response struct {
	Index    uint64
	Err      error
	Outcomes []Outcome
}

type handler func(c *txn, body []byte) *Response

// FSM implements raft.FSM and raft.BatchingFSM.
type FSM struct {
	cfg      Config
	logger   hclog.Logger
	handlers [256]handler
	// maxVersion is the highest command format version applied.
	maxVersion uint16

	mu      sync.RWMutex
	store   *state.Store
	pending []state.Event
	applied chan struct{} // closed and replaced after each apply
	// lastHead and lastHex are the chain head after the last sealed event
	// and its hex hash, so the next event's Prev needs no encoding.
	lastHead state.ChainHead
	lastHex  string
	// halted is why the FSM stopped applying (nil while it applies), and
	// haltedAt the index of the entry it refused.
	halted   error
	haltedAt uint64
	// haltNote is set by applyLocked when it halts, for the caller to
	// report once outside the lock.
	haltNote error
}

// New returns an FSM with an empty store.
func New(cfg Config) *FSM {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	f := &FSM{cfg: cfg, logger: cfg.Logger.Named("fsm"), store: state.NewStore(), applied: make(chan struct{}), maxVersion: cfg.MaxVersion}
	if f.maxVersion == 0 || f.maxVersion > command.FormatVersion {
		f.maxVersion = command.FormatVersion
	}
	for _, spec := range command.Specs() {
		h, ok := handlers[spec.Type]
		if !ok {
			panic("raftfsm: no handler for command " + spec.Name)
		}
		f.handlers[spec.Type] = h
	}
	for t := range handlers {
		if _, ok := command.Lookup(t); !ok {
			panic(fmt.Sprintf("raftfsm: handler for type %d, which has no registry row", t))
		}
	}
	return f
}

// handlers are the Apply functions of the registry's commands
// (command.Specs); New refuses a row without one.
var handlers = map[command.MessageType]handler{
	command.MissionApplyType:        applyMission,
	command.SubmitBatchType:         applySubmitBatch,
	command.AssignBatchType:         applyAssignBatch,
	command.StartBatchType:          applyStartBatch,
	command.CompleteBatchType:       applyCompleteBatch,
	command.RequeueBatchType:        applyRequeueBatch,
	command.SpillBatchType:          applySpillBatch,
	command.ParkBatchType:           applyParkBatch,
	command.NodeRegisterType:        applyNodeRegister,
	command.NodeUpdateType:          applyNodeUpdate,
	command.NodeStatusType:          applyNodeStatus,
	command.NodeRetireType:          applyNodeRetire,
	command.NodeDrainType:           applyNodeDrain,
	command.NodeClaimType:           applyNodeClaim,
	command.ShardRegisterType:       applyShardRegister,
	command.ShardUpdateType:         applyShardUpdate,
	command.ShardDeregisterType:     applyShardDeregister,
	command.PauseType:               applyPause,
	command.JobCancelType:           applyJobCancel,
	command.JobRerouteType:          applyJobReroute,
	command.CheckpointConfigureType: applyCheckpointConfigure,
	command.CheckpointSavedType:     applyCheckpointSaved,
	command.ReportingConfigureType:  applyReportingConfigure,
	command.ClockAdvanceType:        applyClockAdvance,
	command.ScheduleFireType:        applyScheduleFire,
	command.ACLBootstrapType:        applyACLBootstrap,
	command.ACLTokenCreateType:      applyACLTokenCreate,
	command.JobGCType:               applyJobGC,
	command.ClientJoinType:          applyClientJoin,
	command.ClientRevokeType:        applyClientRevoke,
	command.RegionCheckpointType:    applyRegionCheckpoint,
	command.HandOffBeginType:        applyHandOffBegin,
	command.HandOffAcceptType:       applyHandOffAccept,
	command.HandOffCloseType:        applyHandOffClose,
}

// Read runs fn under the read lock. fn must not retain s or call its write
// methods.
func (f *FSM) Read(fn func(s *state.Store)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.store)
}

// AppliedIndex is the raft index of the last applied entry.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.store.AppliedIndex()
}

// WaitIndex returns when AppliedIndex() >= idx or ctx is done.
func (f *FSM) WaitIndex(ctx context.Context, idx uint64) error {
	for {
		f.mu.RLock()
		done, ch := f.store.AppliedIndex() >= idx, f.applied
		f.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("raftfsm: waiting for index %d: %w", idx, ctx.Err())
		}
	}
}

// Digest is the SHA-256 of the snapshot stream of the current state; equal
// digests mean equal replicas.
func (f *FSM) Digest() [32]byte {
	f.mu.RLock()
	img := f.store.Image()
	f.mu.RUnlock()
	h := sha256.New()
	if err := snapshot.Write(h, img); err != nil {
		panic(fmt.Sprintf("raftfsm: digest: %v", err)) // hashing never fails
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Apply applies one raft log entry.
func (f *FSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	r := f.applyLocked(l)
	evs := f.finishLocked()
	halt := f.takeHaltLocked()
	f.mu.Unlock()
	f.deliver(evs)
	f.reportHalt(halt)
	if r == nil {
		return nil
	}
	return r
}

// ApplyBatch applies consecutive raft log entries.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.Lock()
	for i, l := range logs {
		if r := f.applyLocked(l); r != nil {
			out[i] = r
		}
	}
	evs := f.finishLocked()
	halt := f.takeHaltLocked()
	f.mu.Unlock()
	f.deliver(evs)
	f.reportHalt(halt)
	return out
}

// Halted returns why the FSM stopped applying entries, or nil. An FSM
// halts at an entry of a command format version it does not know
// (command.ErrUnknownCommandVersion): applying it wrongly, or skipping it,
// would make this replica diverge from the others. From then on it applies
// nothing, its applied index stays before that entry, and it takes no
// snapshot (a snapshot would claim the entries it did not apply). A
// restart with a build (or MaxVersion) that knows the version replays the
// log from the last snapshot and applies the entry; so does installing a
// snapshot taken after it.
func (f *FSM) Halted() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.halted
}

func (f *FSM) takeHaltLocked() error {
	h := f.haltNote
	f.haltNote = nil
	return h
}

func (f *FSM) reportHalt(err error) {
	if err == nil {
		return
	}
	f.logger.Error("stopped applying the raft log: an entry of a newer command format than this server knows; "+
		"upgrade this server (or remove it from the cluster) and restart it", "error", err)
	if f.cfg.OnHalt != nil {
		f.cfg.OnHalt(err)
	}
}

// entryVersionErr returns the version error of an entry of type t with
// body, or nil when this FSM knows its format. A ScheduleFire is checked
// for the command it carries too.
func (f *FSM) entryVersionErr(t command.MessageType, body []byte) error {
	if err := command.CheckVersion(t, f.maxVersion); err != nil {
		if command.Ignorable(t) && command.VersionOf(t) == 0 {
			return nil // an optional command this build does not know: skipped
		}
		return err
	}
	if t == command.ScheduleFireType {
		var m command.ScheduleFire
		if _, err := m.UnmarshalMsg(body); err == nil && m.Action != 0 && !m.Skipped {
			if err := command.CheckVersion(m.Action, f.maxVersion); err != nil {
				return fmt.Errorf("schedule entry %s carries %w", m.EntryID, err)
			}
		}
	}
	return nil
}

func (f *FSM) finishLocked() []state.Event {
	evs := f.pending
	f.pending = nil
	close(f.applied)
	f.applied = make(chan struct{})
	return evs
}

func (f *FSM) deliver(evs []state.Event) {
	if f.cfg.Events != nil && len(evs) > 0 {
		f.cfg.Events.Append(evs)
	}
	// Hand the emptied slice back for the next entries, unless a burst
	// (a replay, a huge batch) grew it well past the usual size.
	if cap(evs) == 0 || cap(evs) > maxReusedEvents {
		return
	}
	clear(evs)
	f.mu.Lock()
	if f.pending == nil {
		f.pending = evs[:0]
	}
	f.mu.Unlock()
}

// maxReusedEvents bounds the emitted-events slice the FSM keeps between
// applies.
const maxReusedEvents = 1 << 15

func (f *FSM) applyLocked(l *raft.Log) *Response {
	if f.halted != nil {
		return &Response{Index: l.Index, Err: fmt.Errorf("raftfsm: halted at index %d: %w", f.haltedAt, f.halted)}
	}
	if l.Type == raft.LogCommand && len(l.Data) > 0 {
		if err := f.entryVersionErr(command.MessageType(l.Data[0]), l.Data[1:]); err != nil {
			f.halted, f.haltedAt = fmt.Errorf("entry %d: %w", l.Index, err), l.Index
			f.haltNote = f.halted
			return &Response{Index: l.Index, Err: f.halted}
		}
	}
	defer func() {
		m := f.store.Meta()
		if l.Index > m.Index {
			m.Index = l.Index
			f.store.SetMeta(m)
		}
	}()
	if l.Type != raft.LogCommand {
		return nil
	}
	if len(l.Data) == 0 {
		panic(fmt.Sprintf("raftfsm: empty command at index %d", l.Index))
	}
	t := command.MessageType(l.Data[0])
	h := f.handlers[t]
	if h == nil {
		// entryVersionErr halted on every unknown type but an optional one.
		f.logger.Warn("skipping unknown optional command", "type", uint8(t), "index", l.Index)
		return &Response{Index: l.Index}
	}
	c := &txn{f: f, s: f.store, index: l.Index}
	c.describe(t, l.Data[1:])
	r := h(c, l.Data[1:])
	if r == nil {
		r = &Response{}
	}
	r.Index = l.Index
	if r.Err != nil {
		f.logger.Debug("command rejected", "type", t.String(), "index", l.Index, "error", r.Err)
	}
	return r
}

// Snapshot captures an immutable view; Persist encodes it.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	if f.halted != nil {
		err := f.halted
		f.mu.RUnlock()
		return nil, fmt.Errorf("raftfsm: no snapshot while halted: %w", err)
	}
	img := f.store.Image()
	f.mu.RUnlock()
	return &fsmSnapshot{img: img, events: f.cfg.Events, logger: f.logger}, nil
}

// Restore replaces all state with the snapshot read from rc.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	img, err := snapshot.Read(rc)
	if err != nil {
		return fmt.Errorf("raftfsm: restore: %w", err)
	}
	st, err := state.FromImage(img)
	if err != nil {
		return fmt.Errorf("raftfsm: restore: %w", err)
	}
	f.mu.Lock()
	f.store = st
	f.pending = nil
	// The restored state is a whole replica's at the snapshot's index; the
	// entries after it are applied (or refused) again.
	f.halted, f.haltedAt = nil, 0
	close(f.applied)
	f.applied = make(chan struct{})
	f.mu.Unlock()
	f.logger.Info("restored snapshot", "jobs", st.NumJobs(), "index", st.AppliedIndex(), "events", st.Head().Seq)
	if c, ok := f.cfg.Events.(SnapshotCovered); ok {
		c.Covered(st.Head())
	}
	return nil
}

type fsmSnapshot struct {
	img    *state.Image
	events EventSink
	logger hclog.Logger
}

// Persist writes the snapshot stream to sink, cancelling it on any error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if s.img == nil {
		sink.Cancel()
		return errors.New("raftfsm: persist after release")
	}
	if s.events != nil {
		if err := s.events.Sync(s.img.Meta.Head.Seq); err != nil {
			sink.Cancel()
			return fmt.Errorf("raftfsm: sync events before snapshot: %w", err)
		}
	}
	if err := snapshot.Write(sink, s.img); err != nil {
		sink.Cancel()
		return fmt.Errorf("raftfsm: persist: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raftfsm: persist: close sink: %w", err)
	}
	if c, ok := s.events.(SnapshotCovered); ok {
		c.Covered(s.img.Meta.Head)
	}
	return nil
}

// Release drops the captured view.
func (s *fsmSnapshot) Release() { s.img = nil }

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)
