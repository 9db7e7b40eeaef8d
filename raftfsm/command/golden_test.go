package command

import (
	"bytes"
	"flag"
	"fmt"
	"reflect"
	"testing"

	"github.com/planetary/planetary/raftfsm/internal/golden"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

var update = flag.Bool("update", false, "write the golden fixtures that do not exist yet (an existing one is never rewritten)")

// goldenDir holds one raft log entry per fixture: the type byte and the
// msgpack body, as the code of the day the fixture was added encoded it.
const goldenDir = "testdata/golden"

// goldenCase is one fixture: the file testdata/golden/<name>.bin holds the
// entry Encode(typ, msg) wrote when the case was added.
//
// The rules (docs/architecture.md, Persisted format): never change the value
// of an existing case, nor its file. A new field of a command gets a new case
// (the type's name and the next number) whose value sets the field, written
// with `go test -run TestGoldenCommands -update`; the old cases keep showing
// that entries written before the field still decode. A new MessageType gets
// its first case the same way.
type goldenCase struct {
	name string
	typ  MessageType
	msg  msgp.Marshaler
}

const t0 = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z

func meta(actor string) Meta {
	return Meta{Time: t0 + 5_000_000_000, Actor: actor, Reason: "owner request"}
}

func sampleShard() state.Shard {
	return state.Shard{
		Name: "eu", DisplayName: "Europe", Region: "eu-west", LatencyBudgetMs: 250, MaxQueue: 10_000,
		QueueAlertThreshold: 800, SpilloverTargets: []string{"us"},
		Policies:  []state.SpilloverPolicy{{Target: "us", Threshold: 500, MaxDrain: 50, RequiredCapabilities: []string{"gpu"}, Weight: 3}},
		Paused:    true,
		CreatedAt: t0, SpillGraceMs: 30_000, ServiceMeanNs: 1_500_000_000, ServiceSamples: 42,
	}
}

func samplePrice() state.PriceSchedule {
	return state.PriceSchedule{Currency: "credits", Unit: "job", BaseMu: 2_000_000,
		Rates: []state.PriceRate{{Unit: "gpu_second", PerUnitMu: 1_500}}, Expr: "job.priority > 5 ? 100 : 0"}
}

func sampleNode() state.Node {
	return state.Node{
		ID: "eu-gpu-1", Shard: "eu", Client: "client-eu", PluginKind: "sim", Capabilities: []string{"gpu", "llm"},
		Capacity: 4, MaxConcurrency: 2, Quota: 1_000, LatencyMs: 35, HeartbeatSec: 5, Endpoint: "10.0.0.7:7001",
		Deployment: state.Deployment{Orchestration: "nomad", Image: "registry.local/agent:1.4", Runtime: "docker",
			Entrypoint: "/agent", Version: "1.4.2",
			Resources: state.Resources{CPUCores: 8, MemoryGB: 31.5, GPUClass: "a100", GPUs: 1, StorageGB: 200},
			Zones:     []string{"eu-west-1a"}},
		Price:             samplePrice(),
		Attestations:      state.Attestations{Certifications: []string{"iso27001"}, Jurisdiction: "EU", DataResidency: []string{"eu"}, Tags: []string{"green"}},
		Status:            state.NodeUp,
		StatusReason:      "heartbeat",
		RegisteredAt:      t0,
		LastStatusAt:      t0 + 1_000,
		MeasuredLatencyMs: 41,
		Labels:            []string{"rack-3"},
		PluginState:       "up",
		PluginCrashes:     1,
		PluginReason:      "restarted after exit 2",
		PriceSource:       state.PricePlugin,
		DeclaredPrice:     state.PriceSchedule{Currency: "credits", Unit: "job", BaseMu: 3_000_000, Rates: []state.PriceRate{{Unit: "token", PerUnitMu: 2}}, Expr: "0"},
	}
}

// drainingNode is sampleNode during a drain (the fields format version 3
// added).
func drainingNode() state.Node {
	n := sampleNode()
	n.DrainSince, n.DrainDeadline, n.DrainReason = t0+2_000, t0+62_000, "swap the rack"
	return n
}

func sampleToken(typ state.TokenType) state.Token {
	return state.Token{AccessorID: "7c1f0a4e", SecretHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Type: typ, Name: "ops", CreatedAt: t0, RevokedAt: t0 + 9_000}
}

func goldenCases() []goldenCase {
	loc := &Locator{Shard: "eu", Tail: 10, Offset: 2, InFlight: true}
	// The body of a Pause as it was encoded when these cases were written
	// (a literal, so that a later change to Pause cannot change it).
	pause := []byte("\x83\xa4Meta\x83\xa4Time\xd3\x18\x86rS\x17\xff\xf2\x00\xa5Actor\xaeschedule:night" +
		"\xa6Reason\xadowner request\xa5Shard\xa2eu\xa6Paused\xc3")
	return []goldenCase{
		{"mission-apply.1", MissionApplyType, &MissionApply{
			Meta: meta("7c1f0a4e"), Name: "atlas", Digest: "sha256:4a5b", Seed: 20260101,
			Shards: []state.Shard{sampleShard()}, Nodes: []state.Node{sampleNode()},
			CheckpointMs: 60_000, CheckpointPath: "/var/lib/planetary/checkpoints", ReportingDir: "/var/lib/planetary/reports",
			ReportingLabel: "nightly", CompliancePolicy: `node.jurisdiction == "EU"`,
			Schedule: []state.ScheduleEntry{{ID: "night", AtMs: 3_600_000, AfterCompleted: 100, Note: "pause overnight",
				Action: "shard.pause", Args: pause}},
			JobGCThresholdMs: 3_600_000, JobGCIntervalMs: 60_000, JobGCBatch: 512, IdempotencyWindowMs: 86_400_000, MaxAttempts: 7,
		}},
		{"submit-batch.1", SubmitBatchType, &SubmitBatch{Time: t0, Jobs: []JobSubmit{{
			ID: "job-000001", Key: "run-1/000001", Shard: "eu", Capabilities: []string{"gpu"}, Priority: 5,
			ValueMu: 9_000_000, MaxPriceMu: 4_000_000, Kind: "sim", Payload: []byte(`{"ms":20}`), Submitter: "7c1f0a4e",
			Units: []state.Quantity{{Unit: "gpu_second", Micro: 30_000_000}}, MaxAttempts: 3,
		}}}},
		{"assign-batch.1", AssignBatchType, &AssignBatch{Time: t0 + 1, Assignments: []Assignment{{
			JobID: "job-000001", Attempt: 1, Node: "us-gpu-2", QuoteMu: 3_500_000, From: "eu", Rule: "latency",
			HomeEstMs: 900, BudgetMs: 250, TargetEstMs: 120, Meters: []state.Meter{{Unit: "gpu_second", PerUnitMu: 1_500}},
		}}}},
		{"start-batch.1", StartBatchType, &StartBatch{Time: t0 + 2, Jobs: []JobAttempt{{JobID: "job-000001", Attempt: 1}}}},
		{"complete-batch.1", CompleteBatchType, &CompleteBatch{Time: t0 + 3, MaxAttempts: 5, Results: []Result{{
			JobID: "job-000001", Attempt: 1, OK: true, Retryable: true, ExitCode: 3, Output: "done", Error: "partial",
			Usage: []state.Quantity{{Unit: "gpu_second", Micro: 12_500_000}},
		}}}},
		{"requeue-batch.1", RequeueBatchType, &RequeueBatch{Time: t0 + 4, Jobs: []Requeue{{JobID: "job-000002", Attempt: 2, Reason: "node down"}}}},
		{"spill-batch.1", SpillBatchType, &SpillBatch{Time: t0 + 5, Spills: []Spill{{JobID: "job-000003", From: "eu", To: "us"}}}},
		{"park-batch.1", ParkBatchType, &ParkBatch{Time: t0 + 6, Parks: []Park{{JobID: "job-000004", Reason: "no node has capability quantum"}}, Topology: 17}},
		{"node-register.1", NodeRegisterType, &NodeRegister{Meta: meta("client:client-eu"), Node: sampleNode()}},
		{"node-update.1", NodeUpdateType, &NodeUpdate{Meta: meta("7c1f0a4e"), ID: "eu-gpu-1", Fields: []string{"capacity", "plugin_price"}, Node: sampleNode()}},
		{"node-status.1", NodeStatusType, &NodeStatusChange{Meta: meta("system"), ID: "eu-gpu-1", Status: state.NodeDown, MeasuredLatencyMs: 77}},
		{"node-retire.1", NodeRetireType, &NodeRetire{Meta: meta("7c1f0a4e"), ID: "eu-gpu-1", Requeue: true}},
		{"shard-register.1", ShardRegisterType, &ShardRegister{Meta: meta("7c1f0a4e"), Shard: sampleShard()}},
		{"shard-update.1", ShardUpdateType, &ShardUpdate{Meta: meta("7c1f0a4e"), Name: "eu", Fields: []string{"max_queue", "policies"}, Shard: sampleShard()}},
		{"shard-deregister.1", ShardDeregisterType, &ShardDeregister{Meta: meta("7c1f0a4e"), Name: "ap", SpillTo: "eu", Cancel: true}},
		{"pause.1", PauseType, &Pause{Meta: meta("7c1f0a4e"), Shard: "eu", Paused: true}},
		{"job-cancel.1", JobCancelType, &JobCancel{Meta: meta("7c1f0a4e"), IDs: []string{"job-000005"}, Locator: loc}},
		{"job-reroute.1", JobRerouteType, &JobReroute{Meta: meta("7c1f0a4e"), IDs: []string{"job-000006"}, Locator: loc, Target: "us"}},
		{"checkpoint-configure.1", CheckpointConfigureType, &CheckpointConfigure{Meta: meta("7c1f0a4e"), IntervalMs: 120_000, Path: "/srv/checkpoints"}},
		{"reporting-configure.1", ReportingConfigureType, &ReportingConfigure{Meta: meta("7c1f0a4e"), Dir: "/srv/reports", Label: "weekly"}},
		{"clock-advance.1", ClockAdvanceType, &ClockAdvance{Time: t0 + 60_000_000_000}},
		{"schedule-fire.1", ScheduleFireType, &ScheduleFire{Meta: meta("schedule:night"), EntryID: "night", Skipped: true, Action: PauseType, Body: pause}},
		{"acl-bootstrap.1", ACLBootstrapType, &ACLBootstrap{Time: t0, Token: sampleToken(state.TokenManagement)}},
		{"acl-token-create.1", ACLTokenCreateType, &ACLTokenCreate{Meta: meta("7c1f0a4e"), Token: sampleToken(state.TokenSubmit)}},
		{"checkpoint-saved.1", CheckpointSavedType, &CheckpointSaved{Meta: meta("system"), Index: 4_096, Term: 3, Path: "/srv/checkpoints/atlas-4096.snap",
			SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}},
		{"node-claim.1", NodeClaimType, &NodeClaim{Meta: meta("client:client-eu"), Client: "client-eu", Nodes: []string{"eu-gpu-1", "eu-cpu-1"}}},
		{"job-gc.1", JobGCType, &JobGC{Meta: meta("system"), Before: t0 + 30_000_000_000, IDs: []string{"job-000001"}, ForgetBefore: t0}},
		{"client-join.1", ClientJoinType, &ClientJoin{Meta: meta("join:eu"), Token: sampleToken(state.TokenClientIdentity)}},
		{"client-revoke.1", ClientRevokeType, &ClientRevoke{Meta: meta("7c1f0a4e"), Client: "client-eu"}},
		{"region-checkpoint.1", RegionCheckpointType, &RegionCheckpoint{Meta: meta("region:mars"), Checkpoint: state.RegionCheckpoint{
			Region: "mars", RaftIndex: 8_800,
			Totals: state.RegionTotals{Counts: state.Counts{N: [state.NumJobStates]int64{0, 1, 2, 3, 4, 5, 6, 7},
				ValueMu: [state.NumJobStates]int64{0, 1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000, 6_000_000, 7_000_000}},
				ValueMu: 28_000_000, Flows: []state.Flow{{From: "mars.north-1", To: "earth", Jobs: 4, ValueMu: 36_000_000}},
				FlowJobs: 4, FlowValueMu: 36_000_000, PaidMu: 4_100_000},
			Payments:   state.RegionPayments{Count: 3, AmountMu: 4_100_000},
			EventCount: 321, ChainHead: state.ChainHead{Seq: 321, Hash: [32]byte{0xca, 0xfe, 31: 7}}, MissionTimeNs: t0 + 90_000_000_000,
		}}},
		// Format version 3: the drain of a node, and a node's drain fields.
		{"node-drain.1", NodeDrainType, &NodeDrain{Meta: meta("7c1f0a4e"), ID: "eu-gpu-1", DeadlineMs: 60_000, Force: true, Disable: true}},
		{"mission-apply.2", MissionApplyType, &MissionApply{Meta: meta("7c1f0a4e"), Name: "atlas", Digest: "sha256:4a5c",
			Nodes: []state.Node{drainingNode()}}},
		{"node-register.2", NodeRegisterType, &NodeRegister{Meta: meta("client:client-eu"), Node: drainingNode()}},
		{"node-update.2", NodeUpdateType, &NodeUpdate{Meta: meta("7c1f0a4e"), ID: "eu-gpu-1", Fields: []string{"capacity"}, Node: drainingNode()}},
		// Format version 4: cross-region hand-offs, and the hand-off lines
		// of a region checkpoint.
		{"handoff-begin.1", HandOffBeginType, &HandOffBegin{Meta: meta("region-host"), FromRegion: "mars", ToRegion: "earth",
			ToShard: "earth", IDs: []string{"job-000007", "job-000008"}}},
		{"handoff-accept.1", HandOffAcceptType, &HandOffAccept{Meta: meta("region:mars"), HandOff: sampleHandOff()}},
		{"handoff-close.1", HandOffCloseType, &HandOffClose{Meta: meta("region:earth"), ID: "mars.7", Accepted: true, Reason: "queue of shard earth full (10 of 10)"}},
		{"region-checkpoint.2", RegionCheckpointType, &RegionCheckpoint{Meta: meta("region:mars"), Checkpoint: state.RegionCheckpoint{
			Region: "mars", RaftIndex: 9_100,
			Totals: state.RegionTotals{Counts: state.Counts{N: [state.NumJobStates]int64{0, 1, 2, 3, 4, 5, 6, 7},
				ValueMu: [state.NumJobStates]int64{0, 1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000, 6_000_000, 7_000_000}},
				ValueMu: 28_000_000, PaidMu: 4_100_000,
				HandOffs: []state.HandOffLine{{Region: "earth", OpenJobs: 2, OpenValueMu: 18_000_000, OutJobs: 5, OutValueMu: 45_000_000,
					InJobs: 1, InValueMu: 9_000_000}}},
			Payments:   state.RegionPayments{Count: 3, AmountMu: 4_100_000},
			EventCount: 340, ChainHead: state.ChainHead{Seq: 340, Hash: [32]byte{0xca, 0xfe, 31: 8}}, MissionTimeNs: t0 + 95_000_000_000,
		}}},
	}
}

// sampleHandOff is an open hand-off with every field set.
func sampleHandOff() state.HandOff {
	return state.HandOff{ID: "mars.7", FromRegion: "mars", FromShard: "mars", ToRegion: "earth", ToShard: "earth", Seq: 42,
		Job: state.HandOffJob{ID: "job-000007", Key: "run-1/000007", Home: "mars", Capabilities: []string{"gpu"}, Priority: 5,
			ValueMu: 9_000_000, MaxPriceMu: 4_000_000, Kind: "sim", Payload: []byte(`{"ms":20}`), Submitter: "7c1f0a4e",
			Units: []state.Quantity{{Unit: "gpu_second", Micro: 30_000_000}}, MaxAttempts: 3, Attempt: 1, Hops: 2, SubmittedAt: t0},
		State: state.HandOffReturned, Reason: "queue of shard earth full (10 of 10)", BegunAt: t0 + 1_000, ClosedAt: t0 + 2_000}
}

// TestGoldenCommands decodes every fixture and compares it with the value it
// was written from; the newest fixture of each type must also be what
// today's code encodes, byte for byte.
func TestGoldenCommands(t *testing.T) {
	cases := goldenCases()
	newest := map[MessageType]string{}
	for _, c := range cases {
		newest[c.typ] = c.name
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			encode := func() ([]byte, error) { return Encode(c.typ, c.msg) }
			b, written, err := golden.Load(goldenDir, c.name+".bin", *update, encode)
			if err != nil {
				t.Fatal(err)
			}
			if written {
				t.Logf("wrote %s/%s.bin", goldenDir, c.name)
			}
			if err := checkEntry(b, c.typ, c.msg); err != nil {
				t.Fatal(err)
			}
			if newest[c.typ] == c.name {
				now, err := encode()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, now) {
					t.Fatalf("today's encoding of %s differs from its newest fixture: a persisted field changed its tag, type or order; "+
						"keep the tag, and for a new field add a case %s.N", c.typ, c.typ)
				}
			}
		})
	}
}

// checkEntry decodes a fixture entry and compares it with want.
func checkEntry(b []byte, typ MessageType, want any) error {
	got, m, err := Decode(b)
	if err != nil {
		return err
	}
	if got != typ {
		return fmt.Errorf("fixture is type %d, want %d", got, typ)
	}
	return golden.Compare(m, want)
}

// TestGoldenCoversEveryType: every MessageType this build decodes has a
// fixture, and the fixtures set every field of every command struct.
func TestGoldenCoversEveryType(t *testing.T) {
	have := map[MessageType]bool{}
	cov := golden.Coverage{}
	for _, c := range goldenCases() {
		have[c.typ] = true
		cov.Add(c.msg)
	}
	var roots []reflect.Type
	for i := 1; i < 256; i++ {
		m := New(MessageType(i))
		if m == nil {
			continue
		}
		roots = append(roots, reflect.TypeOf(m))
		if !have[MessageType(i)] {
			t.Errorf("message type %d (%T) has no golden fixture: add a case to goldenCases and run with -update", i, m)
		}
	}
	for _, f := range cov.Unset(golden.Structs("github.com/planetary/planetary/raftfsm/command", roots...)) {
		t.Errorf("no golden fixture sets %s: add a case whose value sets it", f)
	}
}

// TestPersistedFieldsTagged: every field of every command, and of every
// state record a command carries, names its encoded key in a msg tag.
func TestPersistedFieldsTagged(t *testing.T) {
	var roots []reflect.Type
	for i := 1; i < 256; i++ {
		if m := New(MessageType(i)); m != nil {
			roots = append(roots, reflect.TypeOf(m))
		}
	}
	types := golden.Structs("github.com/planetary/planetary/raftfsm/", roots...)
	if len(types) < 30 {
		t.Fatalf("only %d persisted struct types found", len(types))
	}
	for _, p := range golden.CheckTags(types) {
		t.Error(p)
	}
}
