package command

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestRegistryCoversEveryType fails when a MessageType constant has no
// registry row, a row names a type twice, or a name or action is reused.
func TestRegistryCoversEveryType(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "registry.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			v := sp.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); ok && id.Name == "MessageType" {
				for _, n := range v.Names {
					if strings.HasSuffix(n.Name, "Type") {
						consts[n.Name] = true
					}
				}
			}
		}
	}
	if len(consts) == 0 {
		t.Fatal("found no MessageType constants in registry.go")
	}
	specs := Specs()
	if len(specs) != len(consts) {
		t.Errorf("%d MessageType constants in registry.go, %d registry rows: every type needs a row", len(consts), len(specs))
	}
	names, actions := map[string]bool{}, map[string]bool{}
	for _, s := range specs {
		if s.Name == "" || names[s.Name] {
			t.Errorf("type %d: empty or repeated name %q", s.Type, s.Name)
		}
		names[s.Name] = true
		for _, a := range s.Actions {
			if actions[a] {
				t.Errorf("action %q on two rows", a)
			}
			actions[a] = true
		}
		if len(s.Actions) > 0 && !s.Owner {
			t.Errorf("%s: has schedule actions but is not an owner command", s.Name)
		}
		if got, ok := ByName(s.Name); !ok || got.Type != s.Type {
			t.Errorf("ByName(%q) = %v %v", s.Name, got.Type, ok)
		}
		if MessageType(s.Type).String() != s.Name {
			t.Errorf("type %d String() = %q, want %q", s.Type, s.Type.String(), s.Name)
		}
	}
	for _, a := range Actions() {
		if _, ok := ByAction(a); !ok {
			t.Errorf("ByAction(%q) not found", a)
		}
	}
}

// TestRegistryConstructorsRoundTrip checks that each row's constructor
// builds the type's own struct: a zero value encodes, decodes through the
// codec as the same type and re-encodes byte-identically.
func TestRegistryConstructorsRoundTrip(t *testing.T) {
	seen := map[string]MessageType{}
	for _, s := range Specs() {
		t.Run(s.Name, func(t *testing.T) {
			m := s.New()
			if m == nil {
				t.Fatal("constructor returned nil")
			}
			typ := typeName(m)
			if prev, ok := seen[typ]; ok {
				t.Fatalf("struct %s is built by types %d and %d", typ, prev, s.Type)
			}
			seen[typ] = s.Type
			buf, err := Encode(s.Type, m)
			if err != nil {
				t.Fatal(err)
			}
			got, back, err := Decode(buf)
			if err != nil || got != s.Type {
				t.Fatalf("decode: %v %v", got, err)
			}
			if typeName(back) != typeName(m) {
				t.Fatalf("decoded as %s, built as %s", typeName(back), typeName(m))
			}
			re, err := Encode(got, back.(Command))
			if err != nil || !bytes.Equal(re, buf) {
				t.Fatalf("re-encode differs: %v", err)
			}
		})
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// TestFormatVersions: FormatVersion is the highest row version, and a type
// appended later never has an older version than one before it.
func TestFormatVersions(t *testing.T) {
	var top uint16
	for _, s := range Specs() {
		v := VersionOf(s.Type)
		if v < top {
			t.Errorf("%s (type %d) has format version %d, older than an earlier type's %d", s.Name, s.Type, v, top)
		}
		top = max(top, v)
	}
	if top != FormatVersion {
		t.Errorf("the highest row version is %d, FormatVersion %d", top, FormatVersion)
	}
	cases := []struct {
		typ   MessageType
		known uint16
		ok    bool
	}{
		{SubmitBatchType, 1, true},
		{ClientJoinType, 2, true},
		{ClientJoinType, 1, false},
		{ClientRevokeType, 1, false},
		{MessageType(200), FormatVersion, false},
	}
	for _, c := range cases {
		err := CheckVersion(c.typ, c.known)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrUnknownCommandVersion)) {
			t.Errorf("CheckVersion(%s, %d) = %v", c.typ, c.known, err)
		}
	}
	if err := CheckVersion(ClientJoinType, 1); err == nil || !strings.Contains(err.Error(), "client.join (type 28) needs format version 2, this server knows up to version 1") {
		t.Errorf("error does not name the type and versions: %v", err)
	}
}
