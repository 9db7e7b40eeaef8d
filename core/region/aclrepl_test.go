package region

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

// aclFaults wraps every ACL link of a host in a link.Faulty, by receiving
// region.
type aclFaults struct {
	mu sync.Mutex
	by map[string]*link.Faulty
}

func withACLFaults(t *testing.T, cfg *Config) *aclFaults {
	f := &aclFaults{by: map[string]*link.Faulty{}}
	cfg.ACL.Wrap = func(from, to string, next link.Transport) link.Transport {
		if from != "earth" {
			t.Errorf("ACL link from %s to %s: the ACL region is earth", from, to)
		}
		w, err := link.NewFaulty(next, link.FaultConfig{Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.by[to] = w
		f.mu.Unlock()
		return w
	}
	// Retries spaced for a test, not for Mars: a healed link answers soon.
	cfg.ACL.Link = link.Config{BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, KeepAlive: time.Second}
	return f
}

func (f *aclFaults) get(to string) *link.Faulty {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.by[to]
}

// tokenIn returns region's token of accessor.
func tokenIn(h *Host, region, accessor string) (tok state.Token, ok bool) {
	h.Region(region).Read(func(st *state.Store) { tok, ok = st.Token(accessor) })
	return tok, ok
}

func tokensIn(h *Host, region string) (toks []state.Token) {
	h.Region(region).Read(func(st *state.Store) { toks = st.Tokens() })
	return toks
}

// waitHeld waits until every region of regions holds accessor's token.
func waitHeld(t *testing.T, h *Host, accessor string, regions ...string) {
	t.Helper()
	for _, name := range regions {
		waitFor(t, name+" holding token "+accessor, func() bool {
			_, ok := tokenIn(h, name, accessor)
			return ok
		})
	}
}

func issued(t *testing.T, a answer) api.Token {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("issue token: %d %s", a.status, a.body)
	}
	if a.region() != "earth" {
		t.Fatalf("token issued by region %q, want the ACL region earth", a.region())
	}
	var tok api.Token
	if err := json.Unmarshal(a.body, &tok); err != nil || tok.SecretID == "" || tok.AccessorID == "" {
		t.Fatalf("token answer %s: %v", a.body, err)
	}
	return tok
}

// createToken creates a token through the front with the management secret.
func createToken(t *testing.T, ts *httptest.Server, mgmt, name, typ string) api.Token {
	t.Helper()
	return issued(t, call(t, ts, http.MethodPost, "/v1/acl/tokens", `{"name":"`+name+`","type":"`+typ+`"}`,
		api.TokenHeader, mgmt, api.RegionHeader, "mars"))
}

// submitAs submits one job to shard through the front with secret.
func submitAs(t *testing.T, ts *httptest.Server, secret, id, shard string) answer {
	t.Helper()
	return call(t, ts, http.MethodPost, "/v1/jobs", batch(jobJSON(id, shard)), api.TokenHeader, secret)
}

func wantAccepted(t *testing.T, a answer, region string) {
	t.Helper()
	res := results(t, a)
	if a.region() != region || len(res) != 1 || res[0].Status != api.StatusAccepted {
		t.Fatalf("submit answered by %q: %+v, want accepted by %s", a.region(), res, region)
	}
}

func wantRefused(t *testing.T, a answer, region string) {
	t.Helper()
	if a.region() != region || (a.status != http.StatusUnauthorized && a.status != http.StatusForbidden) {
		t.Fatalf("answer of %q: %d %s, want 401 or 403 from %s", a.region(), a.status, a.body, region)
	}
}

// sameTokens fails unless region holds exactly the ACL region's tokens:
// the same accessors, each with the same secret hash, type, name and
// creation time, revoked when it is.
func sameTokens(t *testing.T, h *Host, region string) {
	t.Helper()
	want, got := tokensIn(h, "earth"), tokensIn(h, region)
	if len(got) != len(want) {
		t.Fatalf("%s holds %d tokens, earth %d", region, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.AccessorID != w.AccessorID || g.SecretHash != w.SecretHash || g.Type != w.Type || g.Name != w.Name ||
			g.CreatedAt != w.CreatedAt || (g.RevokedAt != 0) != (w.RevokedAt != 0) {
			t.Fatalf("%s token %+v, earth %+v", region, g, w)
		}
	}
}

// TestACLReplicatedFromEarth: every ACL write through the front goes to
// earth, the ACL region, and each token reaches every other region over its
// ACL link, stored through the receiving region's own raft. A token is
// usable in a region once it holds it: with earth's link to mars cut, a
// token created meanwhile works on luna and is refused on mars, which keeps
// accepting the tokens it has; healed, mars accepts it. A client identity
// issued by a join and then revoked is revoked everywhere. Redelivered
// records and a host restart, which offers every token again, store no
// second token.
func TestACLReplicatedFromEarth(t *testing.T) {
	m := example(t)
	dir := t.TempDir()
	cfg := hostConfig(t, dir, m)
	fl := withACLFaults(t, &cfg)
	h := startHost(t, cfg)
	if h.ACLRegion() != "earth" {
		t.Fatalf("ACL region %q", h.ACLRegion())
	}
	ts := frontServer(t, h)
	all := h.Regions()
	others := []string{"luna", "mars", "helios"}

	// Bootstrap through the front, anonymously and naming mars: earth
	// answers, and every region is bootstrapped with earth's token.
	boot := issued(t, call(t, ts, http.MethodPost, "/v1/acl/bootstrap", "", api.TokenHeader, "", api.RegionHeader, "mars"))
	waitHeld(t, h, boot.AccessorID, others...)
	for _, name := range all {
		h.Region(name).Read(func(st *state.Store) {
			if !st.ACLBootstrapped() {
				t.Errorf("%s is not bootstrapped", name)
			}
		})
	}
	ops := createToken(t, ts, boot.SecretID, "ops", "submit")
	waitHeld(t, h, ops.AccessorID, others...)
	wantAccepted(t, submitAs(t, ts, ops.SecretID, "acl-mars-1", "mars"), "mars")
	wantAccepted(t, submitAs(t, ts, ops.SecretID, "acl-luna-1", "luna"), "luna")

	// Cut earth's link to mars, then create a token: it reaches luna and
	// helios; the requests carrying it to mars are dropped.
	cut := fl.get("mars")
	cut.Partition()
	dropped := cut.Stats().DroppedMessages
	late := createToken(t, ts, boot.SecretID, "late", "submit")
	waitHeld(t, h, late.AccessorID, "earth", "luna", "helios")
	waitFor(t, "the token's request to mars dropped", func() bool { return cut.Stats().DroppedMessages > dropped })
	waitFor(t, "earth->mars unreachable", func() bool { return h.ACLLink("mars").Status().State == link.StateUnreachable })
	if _, ok := tokenIn(h, "mars", late.AccessorID); ok {
		t.Fatal("mars holds the token created while its link was cut")
	}
	wantRefused(t, submitAs(t, ts, late.SecretID, "acl-mars-2", "mars"), "mars")
	wantRefused(t, call(t, ts, http.MethodGet, "/v1/shard/mars", "", api.TokenHeader, late.SecretID), "mars")
	wantAccepted(t, submitAs(t, ts, ops.SecretID, "acl-mars-3", "mars"), "mars")
	wantAccepted(t, submitAs(t, ts, late.SecretID, "acl-luna-2", "luna"), "luna")
	wantAccepted(t, submitAs(t, ts, late.SecretID, "acl-earth-2", "earth"), "earth")

	cut.Heal()
	waitHeld(t, h, late.AccessorID, "mars")
	wantAccepted(t, submitAs(t, ts, late.SecretID, "acl-mars-4", "mars"), "mars")

	// A client joins naming mars: earth issues its identity, which mars
	// then accepts; revoked through the front, mars refuses it.
	cred := createToken(t, ts, boot.SecretID, "rover-join", "client")
	waitHeld(t, h, cred.AccessorID, others...)
	ja := call(t, ts, http.MethodPost, "/v1/client/join", `{"client":"rover-1"}`, api.TokenHeader, cred.SecretID, api.RegionHeader, "mars")
	if ja.status != http.StatusOK || ja.region() != "earth" {
		t.Fatalf("join answered by %q: %d %s", ja.region(), ja.status, ja.body)
	}
	var joined api.ClientJoined
	if err := json.Unmarshal(ja.body, &joined); err != nil || joined.Secret == "" {
		t.Fatalf("join answer %s: %v", ja.body, err)
	}
	waitHeld(t, h, joined.AccessorID, others...)
	if a := call(t, ts, http.MethodGet, "/v1/shard/mars", "", api.TokenHeader, joined.Secret); a.status != http.StatusOK || a.region() != "mars" {
		t.Fatalf("client identity on mars: %q %d %s", a.region(), a.status, a.body)
	}
	ra := call(t, ts, http.MethodPost, "/v1/acl/client/rover-1/revoke", `{"reason":"lost rover"}`, api.TokenHeader, boot.SecretID, api.RegionHeader, "mars")
	if ra.status != http.StatusOK || ra.region() != "earth" {
		t.Fatalf("revoke answered by %q: %d %s", ra.region(), ra.status, ra.body)
	}
	for _, name := range others {
		waitFor(t, name+" revoking rover-1", func() bool {
			tok, _ := tokenIn(h, name, joined.AccessorID)
			return tok.RevokedAt != 0
		})
	}
	wantRefused(t, call(t, ts, http.MethodGet, "/v1/shard/mars", "", api.TokenHeader, joined.Secret), "mars")

	// The token list answers from earth unless a region is named.
	if a := call(t, ts, http.MethodGet, "/v1/acl/tokens", "", api.TokenHeader, boot.SecretID); a.status != http.StatusOK || a.region() != "earth" {
		t.Fatalf("token list answered by %q: %d", a.region(), a.status)
	}
	if a := call(t, ts, http.MethodGet, "/v1/acl/tokens?region=mars", "", api.TokenHeader, boot.SecretID); a.status != http.StatusOK || a.region() != "mars" {
		t.Fatalf("mars's token list answered by %q: %d", a.region(), a.status)
	}

	for _, name := range others {
		sameTokens(t, h, name)
	}
	n := uint64(len(tokensIn(h, "earth")))
	// The state shows a record before the inbox counts it stored.
	waitFor(t, "every record counted stored", func() bool {
		for _, s := range h.ACLReplication() {
			if s.Stored != n+1 {
				return false
			}
		}
		return true
	})
	for _, s := range h.ACLReplication() {
		// Every token once, the identity once more for its revocation.
		if s.Refused != 0 || s.Stored != n+1 || s.Offered != n+1 {
			t.Errorf("ACL link to %s: %+v, want %d offered and stored, none refused", s.To, s, n+1)
		}
	}

	// A record delivered again, past the link's own dedupe, is a duplicate.
	in := h.aclr.inboxes["mars"]
	dups := in.duplicates.Load()
	body, err := func() ([]byte, error) { tok, _ := tokenIn(h, "earth", ops.AccessorID); return tok.MarshalMsg(nil) }()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	in.mu.Lock()
	next := in.through + 1
	in.mu.Unlock()
	through, err := in.Deliver(ctx, "earth", []link.Message{{Seq: next, Kind: KindACLToken, ID: ops.AccessorID, Body: body}})
	if err != nil || in.duplicates.Load() != dups+1 {
		t.Fatalf("redelivery: through %d, %v, %d duplicates, want %d", through, err, in.duplicates.Load(), dups+1)
	}
	st, err := h.Region("mars").StoreReplicatedToken(ctx, "earth", func() state.Token { tok, _ := tokenIn(h, "earth", ops.AccessorID); return tok }())
	if err != nil || st != raftfsm.Duplicate {
		t.Fatalf("store again: %v, %v", st, err)
	}
	sameTokens(t, h, "mars")

	// Restarted on its data dir, the host offers every token again: each
	// region already holds them all, so each is a duplicate.
	if err := h.Shutdown(); err != nil {
		t.Fatal(err)
	}
	withACLFaults(t, &cfg)
	h2 := startHost(t, cfg)
	for _, name := range others {
		waitFor(t, "every token offered again to "+name, func() bool {
			for _, s := range h2.ACLReplication() {
				if s.To == name {
					return s.Duplicates == n
				}
			}
			return false
		})
	}
	for _, s := range h2.ACLReplication() {
		if s.Stored != 0 || s.Refused != 0 || s.Offered != n {
			t.Errorf("after the restart, ACL link to %s: %+v", s.To, s)
		}
	}
	for _, name := range others {
		sameTokens(t, h2, name)
	}
	ts2 := frontServer(t, h2)
	wantAccepted(t, submitAs(t, ts2, late.SecretID, "acl-mars-5", "mars"), "mars")
	wantRefused(t, call(t, ts2, http.MethodGet, "/v1/shard/mars", "", api.TokenHeader, joined.Secret), "mars")
}

// TestACLRegionNamed: a host whose config names luna its ACL region sends
// the ACL writes to luna, whose tokens reach the other three over links
// that drop and duplicate a third of their requests and answers: each
// region ends with exactly luna's tokens, none refused. A config naming a
// region the mission does not have is refused naming ACLRegion.
func TestACLRegionNamed(t *testing.T) {
	m := example(t)
	bad := hostConfig(t, t.TempDir(), m)
	bad.ACLRegion = "venus"
	if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "ACLRegion") {
		t.Fatalf("ACLRegion venus: %v", err)
	}

	cfg := hostConfig(t, t.TempDir(), m)
	cfg.ACLRegion = "luna"
	var mu sync.Mutex
	var faulty []*link.Faulty
	cfg.ACL.Wrap = func(from, to string, next link.Transport) link.Transport {
		if from != "luna" {
			t.Errorf("ACL link from %s to %s: the ACL region is luna", from, to)
		}
		w, err := link.NewFaulty(next, link.FaultConfig{Seed: uint64(len(to)), DropRate: 0.33, DupRate: 0.33})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		faulty = append(faulty, w)
		mu.Unlock()
		return w
	}
	cfg.ACL.Link = link.Config{BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond, KeepAlive: 100 * time.Millisecond}
	h := startHost(t, cfg)
	ts := frontServer(t, h)

	a := call(t, ts, http.MethodPost, "/v1/acl/bootstrap", "", api.TokenHeader, "")
	if a.status != http.StatusOK || a.region() != "luna" {
		t.Fatalf("bootstrap answered by %q: %d %s", a.region(), a.status, a.body)
	}
	var boot api.Token
	if err := json.Unmarshal(a.body, &boot); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var last string
	for i := range n {
		a := call(t, ts, http.MethodPost, "/v1/acl/tokens", fmt.Sprintf(`{"name":"t%02d","type":"read"}`, i), api.TokenHeader, boot.SecretID)
		if a.status != http.StatusOK || a.region() != "luna" {
			t.Fatalf("token %d answered by %q: %d %s", i, a.region(), a.status, a.body)
		}
		var tok api.Token
		if err := json.Unmarshal(a.body, &tok); err != nil {
			t.Fatal(err)
		}
		last = tok.AccessorID
	}
	others := []string{"earth", "mars", "helios"}
	waitHeld(t, h, last, others...)
	for _, name := range others {
		waitFor(t, name+" holding luna's tokens", func() bool { return len(tokensIn(h, name)) == n+1 })
	}
	want := tokensIn(h, "luna")
	for _, name := range others {
		got := tokensIn(h, name)
		for i := range want {
			if got[i].AccessorID != want[i].AccessorID || got[i].SecretHash != want[i].SecretHash {
				t.Fatalf("%s token %d: %+v, luna %+v", name, i, got[i], want[i])
			}
		}
		h.Region(name).Read(func(st *state.Store) {
			if !st.ACLBootstrapped() {
				t.Errorf("%s is not bootstrapped", name)
			}
		})
	}
	// The state shows a token before the inbox counts it stored.
	waitFor(t, "every record counted stored", func() bool {
		for _, s := range h.ACLReplication() {
			if s.Stored != n+1 {
				return false
			}
		}
		return true
	})
	for _, s := range h.ACLReplication() {
		if s.Refused != 0 || s.Stored != n+1 {
			t.Errorf("ACL link to %s: %+v", s.To, s)
		}
	}
	var st link.FaultStats
	mu.Lock()
	for _, f := range faulty {
		s := f.Stats()
		st.DroppedRequests += s.DroppedRequests
		st.DroppedAnswers += s.DroppedAnswers
		st.Duplicates += s.Duplicates
	}
	mu.Unlock()
	if st.DroppedRequests == 0 || st.DroppedAnswers == 0 || st.Duplicates == 0 {
		t.Errorf("the faults did not happen: %+v", st)
	}
	t.Logf("faults: %+v", st)
}
