package snapshot

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/internal/golden"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

var update = flag.Bool("update", false, "write the golden fixtures that do not exist yet (an existing one is never rewritten)")

// goldenDir holds one snapshot record body per fixture (the msgpack the
// writer puts after a record's tag and length), and whole snapshot streams,
// as the code of the day the fixture was added wrote them.
const goldenDir = "testdata/golden"

// recordCase is one record fixture: testdata/golden/<name>.bin holds the
// body of a record of tag tag encoded from value when the case was added.
// The rules are the command fixtures' (raftfsm/command/golden_test.go):
// never change an existing case or its file; a new field gets a new case.
type recordCase struct {
	name  string
	tag   byte
	value msgp.Marshaler
}

const t0 = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z

func counts(base int64) state.Counts {
	var c state.Counts
	for i := range c.N {
		c.N[i] = base + int64(i)
		c.ValueMu[i] = (base + int64(i)) * 1_000_000
	}
	return c
}

func goldenShard() *state.Shard {
	return &state.Shard{
		Name: "eu", DisplayName: "Europe", Region: "eu-west", LatencyBudgetMs: 250, MaxQueue: 10_000,
		QueueAlertThreshold: 800, SpilloverTargets: []string{"us"},
		Policies:  []state.SpilloverPolicy{{Target: "us", Threshold: 500, MaxDrain: 50, RequiredCapabilities: []string{"gpu"}, Weight: 3}},
		Paused:    true,
		CreatedAt: t0, SpillGraceMs: 30_000, ServiceMeanNs: 1_500_000_000, ServiceSamples: 42,
	}
}

func goldenNode() *state.Node {
	return &state.Node{
		ID: "eu-gpu-1", Shard: "eu", Client: "client-eu", PluginKind: "sim", Capabilities: []string{"gpu", "llm"},
		Capacity: 4, MaxConcurrency: 2, Quota: 1_000, LatencyMs: 35, HeartbeatSec: 5, Endpoint: "10.0.0.7:7001",
		Deployment: state.Deployment{Orchestration: "nomad", Image: "registry.local/agent:1.4", Runtime: "docker",
			Entrypoint: "/agent", Version: "1.4.2",
			Resources: state.Resources{CPUCores: 8, MemoryGB: 31.5, GPUClass: "a100", GPUs: 1, StorageGB: 200},
			Zones:     []string{"eu-west-1a"}},
		Price: state.PriceSchedule{Currency: "credits", Unit: "job", BaseMu: 2_000_000,
			Rates: []state.PriceRate{{Unit: "gpu_second", PerUnitMu: 1_500}}, Expr: "job.priority > 5 ? 100 : 0"},
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

func goldenJob() *state.Job {
	return &state.Job{
		Seq: 7, ID: "job-000007", Key: "run-1/000007", Home: "eu", Shard: "us", Capabilities: []string{"gpu"},
		Priority: 5, ValueMu: 9_000_000, MaxPriceMu: 4_000_000, Kind: "sim", Payload: []byte(`{"ms":20}`),
		State: state.JobCompleted, Node: "us-gpu-2", Attempt: 2, Hops: 1, QuoteMu: 3_500_000,
		ParkedReason: "no node had gpu", Output: "done", ExitCode: 3, Error: "first attempt: node down",
		SubmittedAt: t0, AssignedAt: t0 + 1_000, FinishedAt: t0 + 2_000, Submitter: "7c1f0a4e", Origin: "eu",
		Units:     []state.Quantity{{Unit: "gpu_second", Micro: 30_000_000}},
		Meters:    []state.Meter{{Unit: "gpu_second", PerUnitMu: 1_500}},
		Usage:     []state.Quantity{{Unit: "gpu_second", Micro: 12_500_000}},
		SettledMu: 2_018_750, MaxAttempts: 3,
	}
}

// goldenJob2 is goldenJob with the seq of the event that unparked it.
func goldenJob2() *state.Job {
	j := goldenJob()
	j.UnparkedSeq = 96
	return j
}

func goldenPolicy() *state.Policy {
	return &state.Policy{
		CheckpointIntervalMs: 60_000, CheckpointPath: "/var/lib/planetary/checkpoints",
		ReportingDir: "/var/lib/planetary/reports", ReportingLabel: "nightly", SystemPaused: true,
		CompliancePolicy: `node.jurisdiction == "EU"`, MissionDigest: "sha256:4a5b", MissionName: "atlas",
		MissionSeed: 20260101, MissionStart: t0, Fired: []string{"night"},
		Schedule: []state.ScheduleEntry{{ID: "night", AtMs: 3_600_000, AfterCompleted: 100, Note: "pause overnight",
			Action: "shard.pause", Args: []byte("\x82\xa5Shard\xa2eu\xa6Paused\xc3")}},
		Skipped: []string{"morning"}, OwnerCommands: 12, Pauses: 2,
		LastCheckpointIndex: 4_096, LastCheckpointTerm: 3, LastCheckpointPath: "/srv/checkpoints/atlas-4096.snap",
		LastCheckpointSHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", LastCheckpointAt: t0 + 9_000,
		JobGCThresholdMs: 3_600_000, JobGCIntervalMs: 60_000, JobGCBatch: 512, IdempotencyWindowMs: 86_400_000, MaxAttempts: 7,
	}
}

func goldenToken() *state.Token {
	return &state.Token{AccessorID: "7c1f0a4e", SecretHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Type: state.TokenClientIdentity, Name: "client-eu", CreatedAt: t0, RevokedAt: t0 + 9_000}
}

func goldenMeta() *state.StoreMeta {
	return &state.StoreMeta{Head: state.ChainHead{Seq: 99, Hash: [32]byte{0xde, 0xad, 0xbe, 0xef, 31: 1}}, Events: 99,
		Clock: t0 + 60_000_000_000, Index: 4_200, ACLBootstrapped: true, Topology: 17, Seqs: 120}
}

func goldenCollected() *state.Collected {
	return &state.Collected{Jobs: 80, Global: counts(10),
		Shards: []state.NamedCounts{{Name: "eu", Counts: counts(5)}}, Nodes: []state.NamedCounts{{Name: "eu-gpu-1", Counts: counts(3)}},
		PaidMu: 70_000_000, Hops: 4, Batches: 2, LastAt: t0 + 50_000_000_000}
}

func goldenTomb() *state.Tomb {
	return &state.Tomb{ID: "job-000001", Key: "run-1/000001", State: state.JobFailed, FinishedAt: t0 + 2_000,
		CollectedAt: t0 + 50_000_000_000, CollectedIndex: 4_100}
}

func goldenRegion() *state.RegionCheckpoint {
	return &state.RegionCheckpoint{Region: "mars", RaftIndex: 8_800,
		Totals: state.RegionTotals{Counts: counts(30), ValueMu: 735_000_000,
			Flows: []state.Flow{{From: "mars.north-1", To: "earth", Jobs: 4, ValueMu: 36_000_000}}, FlowJobs: 4, FlowValueMu: 36_000_000,
			PaidMu: 41_500_000},
		Payments:   state.RegionPayments{Count: 3, AmountMu: 41_500_000},
		EventCount: 321, ChainHead: state.ChainHead{Seq: 321, Hash: [32]byte{0xca, 0xfe, 31: 7}}, MissionTimeNs: t0 + 90_000_000_000}
}

// storedRegion is goldenRegion as a region stores it since checkpoints
// carry the region's shards and the stamp of the entry that stored them.
func storedRegion() *state.RegionCheckpoint {
	cp := goldenRegion()
	cp.Shards = []string{"mars", "mars.north-1"}
	cp.StoredAtNs = t0 + 95_000_000_000
	return cp
}

// handOffRegion is storedRegion with hand-off lines (format version 4).
func handOffRegion() *state.RegionCheckpoint {
	cp := storedRegion()
	cp.RaftIndex = 9_100
	cp.Totals.HandOffs = []state.HandOffLine{{Region: "earth", OpenJobs: 2, OpenValueMu: 18_000_000, OutJobs: 5, OutValueMu: 45_000_000,
		InJobs: 1, InValueMu: 9_000_000}}
	return cp
}

func goldenHandOff() *state.HandOff {
	return &state.HandOff{ID: "mars.7", FromRegion: "mars", FromShard: "mars", ToRegion: "earth", ToShard: "earth", Seq: 42,
		Job: state.HandOffJob{ID: "job-000007", Key: "run-1/000007", Home: "mars", Capabilities: []string{"gpu"}, Priority: 5,
			ValueMu: 9_000_000, MaxPriceMu: 4_000_000, Kind: "sim", Payload: []byte(`{"ms":20}`), Submitter: "7c1f0a4e",
			Units: []state.Quantity{{Unit: "gpu_second", Micro: 30_000_000}}, MaxAttempts: 3, Attempt: 1, Hops: 2, SubmittedAt: t0},
		State: state.HandOffReturned, Reason: "queue of shard earth full (10 of 10)", BegunAt: t0 + 1_000, ClosedAt: t0 + 2_000}
}

func goldenHandIn() *state.HandIn {
	return &state.HandIn{ID: "luna.3", FromRegion: "luna", FromShard: "luna", Shard: "mars", Job: "job-000011", ValueMu: 4_000_000,
		Hops: 1, Accepted: true, Reason: "unknown shard mars-south", At: t0 + 3_000}
}

// drainingNode is goldenNode during a drain (the fields format version 3
// added).
func drainingNode() *state.Node {
	n := goldenNode()
	n.DrainSince, n.DrainDeadline, n.DrainReason = t0+2_000, t0+62_000, "swap the rack"
	return n
}

func recordCases() []recordCase {
	global := counts(20)
	return []recordCase{
		{"shard.1", tagShard, goldenShard()},
		{"node.1", tagNode, goldenNode()},
		{"node.2", tagNode, drainingNode()},
		{"job.1", tagJob, goldenJob()},
		{"job.2", tagJob, goldenJob2()},
		{"global-counts.1", tagGlobal, &global},
		{"shard-counts.1", tagShardCounts, &state.NamedCounts{Name: "eu", Counts: counts(1)}},
		{"node-counts.1", tagNodeCounts, &state.NamedCounts{Name: "eu-gpu-1", Counts: counts(2)}},
		{"flow.1", tagFlow, &state.Flow{From: "eu", To: "us", Jobs: 6, ValueMu: 54_000_000}},
		{"payment.1", tagPayment, &state.Payment{Node: "us-gpu-2", AmountMu: 2_018_750}},
		{"policy.1", tagPolicy, goldenPolicy()},
		{"token.1", tagToken, goldenToken()},
		{"store-meta.1", tagMeta, goldenMeta()},
		{"collected.1", tagCollected, goldenCollected()},
		{"tomb.1", tagTomb, goldenTomb()},
		{"region-checkpoint.1", tagRegion, goldenRegion()},
		{"region-checkpoint.2", tagRegion, storedRegion()},
		{"region-checkpoint.3", tagRegion, handOffRegion()},
		{"handoff.1", tagHandOff, goldenHandOff()},
		{"handin.1", tagHandIn, goldenHandIn()},
	}
}

// decodeRecord decodes a record body the way Read does: jobs through the
// interning decoder, every other record through its generated one.
func decodeRecord(tag byte, body []byte, into msgp.Unmarshaler) (any, error) {
	if tag == tagJob {
		j := &state.Job{}
		rest, err := state.NewInterner().UnmarshalJob(body, j)
		if err == nil && len(rest) != 0 {
			err = fmt.Errorf("%d trailing bytes", len(rest))
		}
		return j, err
	}
	return into, unmarshal(body, into)
}

// TestGoldenRecords decodes every record fixture and compares it with the
// value it was written from; the newest fixture of each record type must
// also be what today's code encodes, byte for byte.
func TestGoldenRecords(t *testing.T) {
	cases := recordCases()
	newest := map[byte]string{}
	for _, c := range cases {
		newest[c.tag] = c.name
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			encode := func() ([]byte, error) { return c.value.MarshalMsg(nil) }
			b, written, err := golden.Load(goldenDir, c.name+".bin", *update, encode)
			if err != nil {
				t.Fatal(err)
			}
			if written {
				t.Logf("wrote %s/%s.bin", goldenDir, c.name)
			}
			into := reflect.New(reflect.TypeOf(c.value).Elem()).Interface().(msgp.Unmarshaler)
			got, err := decodeRecord(c.tag, b, into)
			if err != nil {
				t.Fatal(err)
			}
			if err := golden.Compare(got, c.value); err != nil {
				t.Fatal(err)
			}
			if newest[c.tag] == c.name {
				now, err := encode()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, now) {
					t.Fatalf("today's encoding of record %d differs from its newest fixture: a persisted field changed its tag, "+
						"type or order; keep the tag, and for a new field add a case", c.tag)
				}
			}
		})
	}
}

// goldenImage is a snapshot holding one record of every type.
func goldenImage() *state.Image {
	return &state.Image{
		Shards: []*state.Shard{goldenShard()}, Nodes: []*state.Node{goldenNode()}, Jobs: []*state.Job{goldenJob()},
		Global:      counts(20),
		ShardCounts: []state.NamedCounts{{Name: "eu", Counts: counts(1)}},
		NodeCounts:  []state.NamedCounts{{Name: "eu-gpu-1", Counts: counts(2)}},
		Flows:       []state.Flow{{From: "eu", To: "us", Jobs: 6, ValueMu: 54_000_000}},
		Payments:    []state.Payment{{Node: "us-gpu-2", AmountMu: 2_018_750}},
		Policy:      *goldenPolicy(), Tokens: []state.Token{*goldenToken()}, Meta: *goldenMeta(),
		Collected: *goldenCollected(), Tombs: []state.Tomb{*goldenTomb()},
		Regions:  []state.RegionCheckpoint{*goldenRegion()},
		HandOffs: []state.HandOff{*goldenHandOff()}, HandIns: []state.HandIn{*goldenHandIn()},
	}
}

// TestGoldenStreams reads whole snapshot streams of each format version
// (version 1 carries no collected aggregates nor tombs, version 2 no region
// checkpoints, version 3 no hand-offs).
func TestGoldenStreams(t *testing.T) {
	cases := []struct {
		name string
		ver  uint16
		img  func() *state.Image
	}{
		{"stream-v1.1", 1, func() *state.Image {
			img := goldenImage()
			img.Collected, img.Tombs, img.Regions = state.Collected{}, nil, nil
			img.HandOffs, img.HandIns = nil, nil
			return img
		}},
		{"stream-v2.1", 2, func() *state.Image {
			img := goldenImage()
			img.Regions, img.HandOffs, img.HandIns = nil, nil, nil
			return img
		}},
		{"stream-v3.1", 3, func() *state.Image {
			img := goldenImage()
			img.HandOffs, img.HandIns = nil, nil
			return img
		}},
		{"stream-v4.1", 4, goldenImage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, written, err := golden.Load(goldenDir, c.name+".snap", *update, func() ([]byte, error) {
				var buf bytes.Buffer
				err := write(&buf, goldenImage(), c.ver)
				return buf.Bytes(), err
			})
			if err != nil {
				t.Fatal(err)
			}
			if written {
				t.Logf("wrote %s/%s.snap", goldenDir, c.name)
			}
			got, err := Read(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			got.Interner = nil
			if err := golden.Compare(got, c.img()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGoldenCoversEveryRecord: every record tag Read knows has a fixture,
// and the fixtures set every field of every state record.
func TestGoldenCoversEveryRecord(t *testing.T) {
	have := map[byte]bool{}
	cov := golden.Coverage{}
	var roots []reflect.Type
	for _, c := range recordCases() {
		have[c.tag] = true
		cov.Add(c.value)
		roots = append(roots, reflect.TypeOf(c.value))
	}
	if known(tagTrailer - 1) {
		t.Fatal("the probe of known record tags accepts an unknown tag")
	}
	for tag := 1; tag < tagTrailer; tag++ {
		if known(byte(tag)) && !have[byte(tag)] {
			t.Errorf("snapshot record tag %d has no golden fixture: add a case to recordCases and run with -update", tag)
		}
	}
	for _, f := range cov.Unset(golden.Structs("github.com/planetary/planetary/raftfsm/state", roots...)) {
		t.Errorf("no golden fixture sets %s: add a case whose value sets it", f)
	}
}

// known reports whether Read accepts records of tag (it refuses an unknown
// tag by name).
func known(tag byte) bool {
	b := []byte(Magic)
	b = binary.BigEndian.AppendUint16(b, Version)
	b = append(b, tag, 0, 0, 0, 1, 0x80)
	crc := crc32.Checksum(b, castagnoli())
	b = append(b, tagTrailer)
	b = binary.BigEndian.AppendUint64(b, uint64(len(b)-1))
	b = binary.BigEndian.AppendUint32(b, crc)
	_, err := Read(bytes.NewReader(b))
	return err == nil || !strings.Contains(err.Error(), "unknown record tag")
}

// TestPersistedRecordFieldsTagged: every field of every snapshot record
// names its encoded key in a msg tag.
func TestPersistedRecordFieldsTagged(t *testing.T) {
	var roots []reflect.Type
	for _, c := range recordCases() {
		roots = append(roots, reflect.TypeOf(c.value))
	}
	types := golden.Structs("github.com/planetary/planetary/raftfsm/", roots...)
	if len(types) < 20 {
		t.Fatalf("only %d persisted struct types found", len(types))
	}
	for _, p := range golden.CheckTags(types) {
		t.Error(p)
	}
}
