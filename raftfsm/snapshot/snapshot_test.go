package snapshot

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

func testImage(jobs int) *state.Image {
	img := &state.Image{
		Shards:   []*state.Shard{{Name: "eu", SpilloverTargets: []string{"us"}}},
		Nodes:    []*state.Node{{ID: "n1", Shard: "eu", Capacity: 2}},
		Flows:    []state.Flow{{From: "eu", To: "us", Jobs: 1, ValueMu: 5}},
		Payments: []state.Payment{{Node: "n1", AmountMu: 9}},
		Policy:   state.Policy{MissionName: "m", Fired: []string{"a"}},
		Tokens:   []state.Token{{AccessorID: "a", SecretHash: "h", Type: state.TokenManagement}},
		Meta:     state.StoreMeta{Head: state.ChainHead{Seq: 3, Hash: [32]byte{1}}, Events: 3, Clock: 4, Index: 5},
	}
	for i := 1; i <= jobs; i++ {
		img.Jobs = append(img.Jobs, &state.Job{Seq: uint64(i), ID: string(rune('a'+i%26)) + "-job", Shard: "eu", State: state.JobQueued, Capabilities: []string{"gpu"}})
	}
	return img
}

func TestWriteReadInspect(t *testing.T) {
	cases := []struct {
		name string
		jobs int
	}{{"empty", 0}, {"one", 1}, {"several-chunks", 3*chunkJobs + 7}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := testImage(tc.jobs)
			var buf bytes.Buffer
			if err := Write(&buf, img); err != nil {
				t.Fatal(err)
			}
			got, err := Read(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			got.Interner = nil
			if len(got.Jobs) == 0 {
				got.Jobs = nil
			}
			if !reflect.DeepEqual(got, img) {
				t.Fatalf("round trip differs")
			}
			info, err := Inspect(bytes.NewReader(buf.Bytes()))
			if err != nil || info.Jobs != tc.jobs || info.Meta != img.Meta || info.Bytes != uint64(buf.Len()) {
				t.Fatalf("inspect %+v %v", info, err)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, testImage(10)); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	withVersion := append([]byte(nil), good...)
	withVersion[9] = 9
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"not-a-snapshot", []byte("hello world, not a snapshot"), ErrBadMagic},
		{"version", withVersion, ErrUnsupportedVersion},
		{"header-only", good[:headerLen], ErrTruncated},
		{"no-trailer", good[:len(good)-trailerLen], ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader(tc.data)); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// A version 1 stream (before garbage collection) still reads, with nothing
// collected; a version 2 stream carries the aggregates and tombs.
func TestReadsVersion1AndCarriesCollected(t *testing.T) {
	img := testImage(3)
	var v1 bytes.Buffer
	if err := write(&v1, img, 1); err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(v1.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Jobs) != 3 || got.Collected.Jobs != 0 || len(got.Tombs) != 0 {
		t.Fatalf("v1: %d jobs, %+v", len(got.Jobs), got.Collected)
	}
	if _, err := state.FromImage(got); err != nil {
		t.Fatal(err)
	}
	img.Collected = state.Collected{Jobs: 1, Global: state.Counts{N: [state.NumJobStates]int64{4: 1}}, PaidMu: 3,
		Shards: []state.NamedCounts{{Name: "eu", Counts: state.Counts{N: [state.NumJobStates]int64{4: 1}}}}}
	img.Tombs = []state.Tomb{{ID: "gone", Key: "k", State: state.JobCompleted, CollectedAt: 4}}
	var v2 bytes.Buffer
	if err := Write(&v2, img); err != nil {
		t.Fatal(err)
	}
	got, err = Read(bytes.NewReader(v2.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Collected, img.Collected) || !reflect.DeepEqual(got.Tombs, img.Tombs) {
		t.Fatalf("v2: %+v %+v", got.Collected, got.Tombs)
	}
	info, err := Inspect(bytes.NewReader(v2.Bytes()))
	if err != nil || info.Tombs != 1 || info.Collected.Jobs != 1 {
		t.Fatalf("inspect %+v %v", info, err)
	}
}
