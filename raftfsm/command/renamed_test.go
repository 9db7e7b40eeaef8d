package command

//go:generate msgp -file renamed_test.go -o zz_generated_renamed_msgp_test.go -tests=false -io=false -unexported

import (
	"testing"

	"github.com/planetary/planetary/raftfsm/internal/golden"
)

// renamedUntagged is ClientRevoke after a rename of its Client field to
// ClientName that did not keep the old key: the generated codec looks for
// the key "ClientName" and skips the "Client" the fixture holds.
type renamedUntagged struct {
	Meta       Meta `msg:"Meta"`
	ClientName string
}

// renamedTagged is the same rename done by the rule: the Go field has a new
// name, its tag the old one.
type renamedTagged struct {
	Meta       Meta   `msg:"Meta"`
	ClientName string `msg:"Client"`
}

// TestRenamedFieldFailsGolden runs the generated codec over copies of
// ClientRevoke whose Client field is renamed, on the client-revoke fixture:
// renamed without its tag, the fixture no longer decodes to the value it was
// written from (the golden check fails, naming the field); renamed with the
// old tag kept, it does.
func TestRenamedFieldFailsGolden(t *testing.T) {
	var orig *ClientRevoke
	for _, c := range goldenCases() {
		if c.name == "client-revoke.1" {
			orig = c.msg.(*ClientRevoke)
		}
	}
	if orig == nil || orig.Client == "" {
		t.Fatal("no client-revoke.1 case with a client")
	}
	b, _, err := golden.Load(goldenDir, "client-revoke.1.bin", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if MessageType(b[0]) != ClientRevokeType {
		t.Fatalf("fixture type %d", b[0])
	}
	body := b[1:]

	untagged := &renamedUntagged{}
	if _, err := untagged.UnmarshalMsg(body); err != nil {
		t.Fatal(err)
	}
	err = golden.Compare(untagged, &renamedUntagged{Meta: orig.Meta, ClientName: orig.Client})
	if err == nil {
		t.Fatal("a field renamed without its tag still matched its golden fixture")
	}
	t.Logf("renamed without its tag: %v", err)

	tagged := &renamedTagged{}
	if _, err := tagged.UnmarshalMsg(body); err != nil {
		t.Fatal(err)
	}
	if err := golden.Compare(tagged, &renamedTagged{Meta: orig.Meta, ClientName: orig.Client}); err != nil {
		t.Fatalf("a field renamed with its old tag kept: %v", err)
	}
}
