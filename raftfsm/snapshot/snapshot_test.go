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
