package command

import (
	"bytes"
	"errors"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		t    MessageType
		msg  msgp.Marshaler
	}{
		{"submit", SubmitBatchType, &SubmitBatch{Time: 7, Jobs: []JobSubmit{{ID: "j1", Key: "k", Shard: "eu", Capabilities: []string{"gpu"}, Payload: []byte("{}")}}}},
		{"mission", MissionApplyType, &MissionApply{Name: "m", Digest: "d", Shards: []state.Shard{{Name: "eu", Policies: []state.SpilloverPolicy{{Target: "us"}}}},
			Nodes: []state.Node{{ID: "n1", Shard: "eu", Price: state.PriceSchedule{Rates: []state.PriceRate{{Unit: "job", PerUnitMu: 5}}}}}}},
		{"cancel-locator", JobCancelType, &JobCancel{Meta: Meta{Actor: "a"}, Locator: &Locator{Shard: "eu", Tail: 3}}},
		{"acl", ACLBootstrapType, &ACLBootstrap{Token: state.Token{AccessorID: "a", Type: state.TokenManagement}}},
		{"fire", ScheduleFireType, &ScheduleFire{EntryID: "e", Action: PauseType, Body: []byte{0x80}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf, err := Encode(tc.t, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Encode(tc.t, tc.msg)
			if !bytes.Equal(buf, again) {
				t.Fatal("encoding is not byte-identical")
			}
			typ, got, err := Decode(buf)
			if err != nil || typ != tc.t {
				t.Fatalf("decode: %v %v", typ, err)
			}
			re, err := Encode(typ, got.(msgp.Marshaler))
			if err != nil || !bytes.Equal(re, buf) {
				t.Fatalf("re-encode differs: %v", err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := Encode(PauseType, &Pause{Shard: "eu", Paused: true})
	cases := []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"unknown", []byte{99, 0x80}, ErrUnknownType},
		{"unknown-ignorable", []byte{byte(IgnoreUnknownFlag | 40), 0x80}, ErrUnknownType},
		{"truncated", good[:len(good)-2], ErrDecode},
		{"trailing", append(append([]byte{}, good...), 1), ErrDecode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Decode(tc.buf); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if !Ignorable(IgnoreUnknownFlag|40) || Ignorable(PauseType) {
		t.Fatal("Ignorable")
	}
}
