package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// TestStoreReplicatedToken: a region stores the token records its ACL
// region replicates as the ACL region holds them, once each by accessor
// id: the first management token bootstraps it, a client identity arrives
// live or revoked and a later record revokes it, and a record delivered
// again is a duplicate. A record no region could hold, or one in conflict
// with what the region holds, is refused naming the field, and proposes
// nothing.
func TestStoreReplicatedToken(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Region = "mars"
	s := startServer(t, cfg)
	ctx := ctxT(t)

	boot := state.Token{AccessorID: "a-boot", SecretHash: hashOf("boot"), Type: state.TokenManagement, Name: "bootstrap", CreatedAt: 7}
	ops := state.Token{AccessorID: "a-ops", SecretHash: hashOf("ops"), Type: state.TokenManagement, Name: "ops", CreatedAt: 8}
	rover := state.Token{AccessorID: "a-rover", SecretHash: hashOf("rover"), Type: state.TokenClientIdentity, Name: "rover-1", CreatedAt: 9}
	gone := state.Token{AccessorID: "a-gone", SecretHash: hashOf("gone"), Type: state.TokenClientIdentity, Name: "rover-2", CreatedAt: 10, RevokedAt: 11}
	revoked := rover
	revoked.RevokedAt = 12

	for _, c := range []struct {
		name    string
		tok     state.Token
		want    raftfsm.OutcomeStatus
		revoked bool // the stored token is revoked
	}{
		{"bootstrap", boot, raftfsm.Applied, false},
		{"bootstrap again", boot, raftfsm.Duplicate, false},
		{"management", ops, raftfsm.Applied, false},
		{"identity", rover, raftfsm.Applied, false},
		{"identity again", rover, raftfsm.Duplicate, false},
		{"revocation", revoked, raftfsm.Applied, true},
		{"revocation again", revoked, raftfsm.Duplicate, true},
		{"live record of a revoked identity", rover, raftfsm.Duplicate, true},
		{"identity revoked before it arrived", gone, raftfsm.Applied, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.StoreReplicatedToken(ctx, "earth", c.tok)
			if err != nil || got != c.want {
				t.Fatalf("got %v, %v, want %v", got, err, c.want)
			}
			var have state.Token
			var ok bool
			s.Read(func(st *state.Store) { have, ok = st.Token(c.tok.AccessorID) })
			if !ok || have.SecretHash != c.tok.SecretHash || have.Type != c.tok.Type || have.Name != c.tok.Name ||
				have.CreatedAt != c.tok.CreatedAt || (have.RevokedAt != 0) != c.revoked {
				t.Fatalf("stored %+v (held %v) for %+v", have, ok, c.tok)
			}
		})
	}
	s.Read(func(st *state.Store) {
		if !st.ACLBootstrapped() {
			t.Error("the first management token did not bootstrap the region")
		}
		if n := len(st.Tokens()); n != 4 {
			t.Errorf("%d tokens, want 4", n)
		}
	})

	bad := func(f func(*state.Token)) state.Token {
		tok := state.Token{AccessorID: "a-new", SecretHash: hashOf("new"), Type: state.TokenSubmit, Name: "new"}
		f(&tok)
		return tok
	}
	for _, c := range []struct {
		name, from, field string
		tok               state.Token
	}{
		{"own region", "mars", "region", bad(func(*state.Token) {})},
		{"no accessor", "earth", "accessor_id", bad(func(t *state.Token) { t.AccessorID = "" })},
		{"secret in clear", "earth", "secret_hash", bad(func(t *state.Token) { t.SecretHash = "new" })},
		{"no type", "earth", "type", bad(func(t *state.Token) { t.Type = state.TokenNone })},
		{"no name", "earth", "name", bad(func(t *state.Token) { t.Name = "" })},
		{"revoked submit token", "earth", "revoked_at", bad(func(t *state.Token) { t.RevokedAt = 1 })},
		{"accessor with another secret", "earth", "secret_hash", bad(func(t *state.Token) { t.AccessorID = ops.AccessorID })},
		{"accessor of another type", "earth", "type", bad(func(t *state.Token) { t.AccessorID, t.SecretHash = ops.AccessorID, ops.SecretHash })},
		{"secret of another accessor", "earth", "secret_hash", bad(func(t *state.Token) { t.SecretHash = ops.SecretHash })},
		{"client name of another identity", "earth", "name", bad(func(t *state.Token) { t.Type, t.Name = state.TokenClientIdentity, rover.Name })},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := s.AppliedIndex()
			_, err := s.StoreReplicatedToken(ctx, c.from, c.tok)
			var re *RequestError
			if !errors.As(err, &re) || re.Field != c.field {
				t.Fatalf("err %v, want a refusal naming %s", err, c.field)
			}
			if s.AppliedIndex() != before {
				t.Fatal("a refused record moved the raft index")
			}
		})
	}
}
