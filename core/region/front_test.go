package region

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/planetary/planetary/core/api"
	apiclient "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/state"
)

const frontSecret = "front-test-secret"

// frontServer serves a front over h on a real HTTP server; every region's
// handler shares one ACL config, whose agent secret the test calls with.
func frontServer(t *testing.T, h *Host) *httptest.Server {
	t.Helper()
	f, err := NewFront(h, api.Config{AgentSecret: frontSecret, Logger: h.cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	if f.Default() != "earth" {
		t.Fatalf("default region %q", f.Default())
	}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	return ts
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) region() string { return a.header.Get(api.RegionHeader) }

func (a answer) errorBody(t *testing.T) api.ErrorBody {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(a.body, &eb); err != nil {
		t.Fatalf("error body %s: %v", a.body, err)
	}
	return eb
}

// call sends one request to the front with the agent secret (unless
// anonymous) and the given headers.
func call(t *testing.T, ts *httptest.Server, method, path, body string, hdr ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(api.TokenHeader, frontSecret)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func jobJSON(id, shard string) string {
	return `{"id":"` + id + `","shard":"` + shard + `","kind":"sim","value_micro":1000,"payload":{}}`
}

func batch(jobs ...string) string { return "[" + strings.Join(jobs, ",") + "]" }

// holders lists the regions whose state holds job id.
func holders(h *Host, id string) []string {
	var out []string
	for _, name := range h.Regions() {
		found := false
		h.Region(name).Read(func(st *state.Store) { found = st.Job(id) != nil })
		if found {
			out = append(out, name)
		}
	}
	return out
}

func results(t *testing.T, a answer) []api.SubmitResult {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("submit: %d %s", a.status, a.body)
	}
	var res []api.SubmitResult
	if err := json.Unmarshal(a.body, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func hasIndex(t *testing.T, a answer) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(a.header.Get(api.IndexHeader), 10, 64)
	if err != nil || n == 0 {
		t.Fatalf("answer of %s has index %q", a.region(), a.header.Get(api.IndexHeader))
	}
	return n
}

// TestFrontRoutesEveryRegion: one address serves the four regions of the
// example mission. A batch spanning regions is split and every job lands
// in its own region's server, outcomes in input order; job, shard and node
// routes (the described owner commands included) and locator bodies reach
// the region holding what they name; lists merge; other reads answer from
// the default region unless a region is named; an unknown region, a
// malformed job or an unknown shard refuse the whole batch naming the
// field, before any region is asked.
func TestFrontRoutesEveryRegion(t *testing.T) {
	h := startHost(t, hostConfig(t, t.TempDir(), example(t)))
	ts := frontServer(t, h)

	// One batch over three regions, interleaved.
	a := call(t, ts, "POST", "/v1/jobs", batch(jobJSON("f-earth-0", "earth"), jobJSON("f-mars-0", "mars"),
		jobJSON("f-earth-1", "earth"), jobJSON("f-luna-0", "luna")))
	res := results(t, a)
	want := []string{"f-earth-0", "f-mars-0", "f-earth-1", "f-luna-0"}
	if len(res) != len(want) || a.region() != "earth,mars,luna" {
		t.Fatalf("split submit answered %v from %q", res, a.region())
	}
	for i, r := range res {
		if r.ID != want[i] || r.Status != api.StatusAccepted {
			t.Fatalf("job %d: %+v", i, r)
		}
		region := strings.Split(strings.TrimPrefix(r.ID, "f-"), "-")[0]
		if got := holders(h, r.ID); !slices.Equal(got, []string{region}) {
			t.Fatalf("job %s is held by %v, want %s alone", r.ID, got, region)
		}
	}
	// A batch in one region goes to it whole, with its index.
	a = call(t, ts, "POST", "/v1/jobs", batch(jobJSON("f-helios-0", "helios"), jobJSON("f-helios-1", "helios")))
	if res := results(t, a); len(res) != 2 || a.region() != "helios" || res[1].Status != api.StatusAccepted {
		t.Fatalf("helios submit: %s from %q", a.body, a.region())
	}
	hasIndex(t, a)
	if got := holders(h, "f-helios-1"); !slices.Equal(got, []string{"helios"}) {
		t.Fatalf("f-helios-1 held by %v", got)
	}

	// A job is found in the region holding it.
	a = call(t, ts, "GET", "/v1/job/f-mars-0", "")
	var job api.Job
	if a.status != http.StatusOK || a.region() != "mars" || json.Unmarshal(a.body, &job) != nil || job.Shard != "mars" {
		t.Fatalf("get mars job: %d %s from %q", a.status, a.body, a.region())
	}
	hasIndex(t, a)
	if a = call(t, ts, "GET", "/v1/job/nowhere-0", ""); a.status != http.StatusNotFound || a.region() != "earth" {
		t.Fatalf("get unknown job: %d %s from %q", a.status, a.body, a.region())
	}
	a = call(t, ts, "GET", "/v1/jobs?shard=luna", "")
	var list api.JobList
	if a.status != http.StatusOK || a.region() != "luna" || json.Unmarshal(a.body, &list) != nil ||
		len(list.Jobs) != 1 || list.Jobs[0].ID != "f-luna-0" {
		t.Fatalf("luna jobs: %d %s from %q", a.status, a.body, a.region())
	}
	if a = call(t, ts, "GET", "/v1/shard/helios", ""); a.status != http.StatusOK || a.region() != "helios" {
		t.Fatalf("get helios shard: %d %s from %q", a.status, a.body, a.region())
	}

	// A described owner command on a mars node reaches mars.
	a = call(t, ts, "POST", "/v1/node/mars.regolith-cradle/drain", `{"reason":"front test"}`)
	if a.status != http.StatusOK || a.region() != "mars" {
		t.Fatalf("drain mars node: %d %s from %q", a.status, a.body, a.region())
	}
	draining := false
	h.Region("mars").Read(func(st *state.Store) { draining = st.Node("mars.regolith-cradle").Draining() })
	if !draining {
		t.Fatal("mars.regolith-cradle is not draining in mars")
	}
	// A locator body reaches its shard's region (its jobs are parked, with
	// no client serving the nodes, so it picks none); a job route reaches
	// the job's.
	a = call(t, ts, "POST", "/v1/jobs/cancel", `{"shard":"luna","tail":1,"reason":"front test"}`)
	if a.status != http.StatusOK || a.region() != "luna" {
		t.Fatalf("locator cancel: %d %s from %q", a.status, a.body, a.region())
	}
	a = call(t, ts, "POST", "/v1/job/f-luna-0/cancel", `{"reason":"front test"}`)
	if a.status != http.StatusOK || a.region() != "luna" {
		t.Fatalf("cancel luna job: %d %s from %q", a.status, a.body, a.region())
	}
	var st state.JobState
	h.Region("luna").Read(func(s *state.Store) { st = s.Job("f-luna-0").State })
	if st != state.JobCancelled {
		t.Fatalf("f-luna-0 is %v in luna, not cancelled", st)
	}

	// Lists merge every region's, in declaration order.
	a = call(t, ts, "GET", "/v1/nodes", "")
	var nodes []api.Node
	if a.status != http.StatusOK || a.region() != "earth,luna,mars,helios" || json.Unmarshal(a.body, &nodes) != nil {
		t.Fatalf("nodes: %d %s from %q", a.status, a.body, a.region())
	}
	ids := map[string]bool{}
	for _, n := range nodes {
		ids[n.ID] = true
	}
	if !ids["earth.core-alpha"] || !ids["mars.regolith-cradle"] || !ids["helios.solaris-array"] || !ids["luna.nav-station"] {
		t.Fatalf("merged nodes %v", ids)
	}
	if a = call(t, ts, "GET", "/v1/shards?index=1", ""); a.status != http.StatusBadRequest || a.errorBody(t).Field != "region" {
		t.Fatalf("blocking merged list: %d %s", a.status, a.body)
	}

	// Reads with no region answer from the default region, or the named
	// one: the ledger's local region is the one the header names.
	for _, c := range []struct{ hdr, want string }{{"", "earth"}, {"mars", "mars"}} {
		a = call(t, ts, "GET", "/v1/ledger", "", api.RegionHeader, c.hdr)
		var l api.Ledger
		if a.status != http.StatusOK || a.region() != c.want || json.Unmarshal(a.body, &l) != nil {
			t.Fatalf("ledger of %q: %d %s from %q", c.hdr, a.status, a.body, a.region())
		}
		hasIndex(t, a)
		local := ""
		for _, r := range l.Regions {
			if r.Local {
				local = r.Region
			}
		}
		if local != c.want {
			t.Fatalf("ledger answered by %s has local region %q", a.region(), local)
		}
	}
	if a = call(t, ts, "GET", "/v1/health?region=luna", ""); a.status != http.StatusOK || a.region() != "luna" {
		t.Fatalf("luna health: %d from %q", a.status, a.region())
	}
	a = call(t, ts, "GET", "/v1/shards", "", api.RegionHeader, "helios")
	var shards []api.Shard
	if a.status != http.StatusOK || a.region() != "helios" || json.Unmarshal(a.body, &shards) != nil || len(shards) != 1 {
		t.Fatalf("helios shards: %d %s from %q", a.status, a.body, a.region())
	}

	// The Go client names its region with every request.
	for _, c := range []struct {
		region string
		status int
	}{{"", 0}, {"earth", 0}, {"mars", http.StatusNotFound}} {
		cl, err := apiclient.NewClient(apiclient.ClientConfig{Address: ts.URL, Token: frontSecret, Region: c.region, HTTPClient: ts.Client()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		_, err = cl.Job(ctx, "f-earth-0")
		cancel()
		var ae *apiclient.Error
		if (c.status == 0 && err != nil) || (c.status != 0 && (!errors.As(err, &ae) || ae.Status != c.status)) {
			t.Fatalf("client of region %q: %v", c.region, err)
		}
	}

	// An unknown region is refused naming the field.
	for _, c := range []struct{ path, hdr, field string }{
		{"/v1/ledger", "pluto", api.RegionHeader},
		{"/v1/ledger?region=pluto", "", "region"},
		{"/v1/ledger?region=luna", "mars", "region"},
	} {
		a = call(t, ts, "GET", c.path, "", api.RegionHeader, c.hdr)
		if eb := a.errorBody(t); a.status != http.StatusBadRequest || eb.Field != c.field || a.region() != "" {
			t.Fatalf("%s with %q: %d %s", c.path, c.hdr, a.status, a.body)
		}
	}
	// The ACL config is every region's: no token is refused.
	if a = call(t, ts, "GET", "/v1/shard/mars", "", api.TokenHeader, ""); a.status != http.StatusUnauthorized || a.region() != "mars" {
		t.Fatalf("anonymous mars read: %d %s", a.status, a.body)
	}

	// A batch spanning regions is checked whole: a malformed job or an
	// unknown shard refuses it, positions those of the batch, and no
	// region takes any of it.
	a = call(t, ts, "POST", "/v1/jobs", batch(jobJSON("g-earth-0", "earth"), `{"id":"g-mars-0","shard":"mars","bogus":1}`))
	if eb := a.errorBody(t); a.status != http.StatusBadRequest || eb.Field != "jobs[1].bogus" {
		t.Fatalf("malformed split batch: %d %s", a.status, a.body)
	}
	a = call(t, ts, "POST", "/v1/jobs", batch(jobJSON("g-earth-1", "earth"), jobJSON("g-nowhere-0", "nowhere")))
	if eb := a.errorBody(t); a.status != http.StatusNotFound || eb.Field != "jobs[1].shard" {
		t.Fatalf("batch with an unknown shard: %d %s", a.status, a.body)
	}
	a = call(t, ts, "POST", "/v1/jobs", batch(jobJSON("g-earth-2", "earth"), jobJSON("g-luna-0", "luna"),
		`{"id":"g-luna-1","shard":"luna","kind":"sim","value_micro":-5}`))
	if eb := a.errorBody(t); a.status != http.StatusBadRequest || !strings.HasPrefix(eb.Field, "jobs[2]") {
		t.Fatalf("batch with a bad value: %d %s", a.status, a.body)
	}
	for _, id := range []string{"g-earth-0", "g-mars-0", "g-earth-1", "g-earth-2", "g-luna-0"} {
		if got := holders(h, id); len(got) != 0 {
			t.Fatalf("refused job %s is held by %v", id, got)
		}
	}

	// A refusal only a region's state shows (its shard deregistered since
	// the host started) rejects that region's part, positions those of
	// the batch, while the other regions' jobs land; when every part is
	// refused, the first part's refusal is the answer.
	for _, name := range []string{"helios", "luna"} {
		a = call(t, ts, "POST", "/v1/shard/"+name+"/deregister", `{"cancel":true,"reason":"front test"}`)
		if a.status != http.StatusOK || a.region() != name {
			t.Fatalf("deregister %s: %d %s from %q", name, a.status, a.body, a.region())
		}
	}
	a = call(t, ts, "POST", "/v1/jobs", batch(jobJSON("p-earth-0", "earth"), jobJSON("p-helios-0", "helios"), jobJSON("p-helios-1", "helios")))
	res = results(t, a)
	if a.region() != "earth,helios" || res[0].Status != api.StatusAccepted || res[1].Status != api.StatusRejected ||
		res[2].Status != api.StatusRejected || res[2].ID != "p-helios-1" ||
		!strings.Contains(res[1].Reason, "region helios") || !strings.Contains(res[1].Reason, "jobs[1].shard") {
		t.Fatalf("batch into a deregistered shard: %s from %q", a.body, a.region())
	}
	if got := holders(h, "p-earth-0"); !slices.Equal(got, []string{"earth"}) {
		t.Fatalf("p-earth-0 held by %v", got)
	}
	a = call(t, ts, "POST", "/v1/jobs", batch(jobJSON("q-helios-0", "helios"), jobJSON("q-luna-0", "luna")))
	if eb := a.errorBody(t); a.status != http.StatusNotFound || eb.Field != "jobs[0].shard" || a.region() != "helios" {
		t.Fatalf("batch refused by every region: %d %s from %q", a.status, a.body, a.region())
	}
	for _, id := range []string{"p-helios-0", "p-helios-1", "q-helios-0", "q-luna-0"} {
		if got := holders(h, id); len(got) != 0 {
			t.Fatalf("refused job %s is held by %v", id, got)
		}
	}
}

// TestFrontStoppedRegion: with mars stopped, every route that concerns mars
// answers 503 naming it, while the other regions keep answering; a batch
// spanning mars and earth lands its earth jobs and rejects the mars ones
// naming the region; a merged list names mars as unavailable.
func TestFrontStoppedRegion(t *testing.T) {
	h := startHost(t, hostConfig(t, t.TempDir(), example(t)))
	ts := frontServer(t, h)
	if res := results(t, call(t, ts, "POST", "/v1/jobs", batch(jobJSON("s-mars-0", "mars")))); res[0].Status != api.StatusAccepted {
		t.Fatalf("mars job: %+v", res)
	}
	if err := h.StopRegion("mars"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/shard/mars", ""},
		{"GET", "/v1/job/s-mars-0", ""},
		{"GET", "/v1/jobs?shard=mars", ""},
		{"POST", "/v1/node/mars.gpu-helion/drain", `{}`},
		{"POST", "/v1/jobs/cancel", `{"shard":"mars","tail":1}`},
		{"POST", "/v1/jobs", batch(jobJSON("s-mars-1", "mars"))},
		{"GET", "/v1/ledger?region=mars", ""},
	} {
		a := call(t, ts, c.method, c.path, c.body)
		if a.status != http.StatusServiceUnavailable || a.region() != "mars" || !strings.Contains(a.errorBody(t).Error, "region mars") {
			t.Fatalf("%s %s with mars stopped: %d %s from %q", c.method, c.path, a.status, a.body, a.region())
		}
	}
	if a := call(t, ts, "GET", "/v1/shard/earth", ""); a.status != http.StatusOK || a.region() != "earth" {
		t.Fatalf("earth shard with mars stopped: %d %s", a.status, a.body)
	}
	a := call(t, ts, "POST", "/v1/jobs", batch(jobJSON("s-earth-0", "earth"), jobJSON("s-mars-2", "mars"), jobJSON("s-helios-0", "helios")))
	res := results(t, a)
	if a.region() != "earth,mars,helios" || len(res) != 3 || res[0].Status != api.StatusAccepted ||
		res[2].Status != api.StatusAccepted || res[1].Status != api.StatusRejected || res[1].ID != "s-mars-2" ||
		!strings.Contains(res[1].Reason, "region mars") {
		t.Fatalf("split batch with mars stopped: %s from %q", a.body, a.region())
	}
	if got := holders(h, "s-earth-0"); !slices.Equal(got, []string{"earth"}) {
		t.Fatalf("s-earth-0 held by %v", got)
	}
	a = call(t, ts, "GET", "/v1/nodes", "")
	var nodes []api.Node
	if a.status != http.StatusOK || a.region() != "earth,luna,helios" || a.header.Get(UnavailableHeader) != "mars" ||
		json.Unmarshal(a.body, &nodes) != nil {
		t.Fatalf("nodes with mars stopped: %d %s from %q", a.status, a.body, a.region())
	}
	for _, n := range nodes {
		if n.Shard == "mars" {
			t.Fatalf("merged list holds mars node %s", n.ID)
		}
	}
}

// TestFrontMission: PUT /v1/mission through the front applies every
// region's own part: the unchanged example changes nothing anywhere, a
// change to mars's shard changes mars alone (its diff lines name mars), an
// explicit region applies that region's part only, and a mission whose
// regions are not the host's is refused naming hcl before any region is
// asked.
func TestFrontMission(t *testing.T) {
	m := example(t)
	h := startHost(t, hostConfig(t, t.TempDir(), m))
	ts := frontServer(t, h)
	src, err := os.ReadFile("../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}
	put := func(text string, hdr ...string) answer {
		b, err := json.Marshal(api.MissionApply{Filename: "mission.hcl", HCL: text, Reason: "front test"})
		if err != nil {
			t.Fatal(err)
		}
		return call(t, ts, "PUT", "/v1/mission", string(b), hdr...)
	}
	applied := func(a answer) api.MissionApplied {
		t.Helper()
		var out api.MissionApplied
		if a.status != http.StatusOK || json.Unmarshal(a.body, &out) != nil {
			t.Fatalf("put mission: %d %s", a.status, a.body)
		}
		return out
	}
	digests := func() map[string]string {
		out := map[string]string{}
		for _, name := range h.Regions() {
			h.Region(name).Read(func(st *state.Store) { out[name] = st.Policy().MissionDigest })
		}
		return out
	}
	before := digests()

	a := put(string(src))
	if out := applied(a); out.Changed || len(out.Diff) != 0 || out.Digest != m.Digest() || a.region() != "earth,luna,mars,helios" {
		t.Fatalf("unchanged mission: %s from %q", a.body, a.region())
	}
	changed := strings.Replace(string(src), "max_queue             = 4000", "max_queue             = 4100", 1)
	if changed == string(src) {
		t.Fatal("the example's mars max_queue moved")
	}
	a = put(changed)
	out := applied(a)
	if !out.Changed || len(out.Diff) == 0 {
		t.Fatalf("changed mission: %s", a.body)
	}
	for _, d := range out.Diff {
		if !strings.HasPrefix(d, "mars: ") {
			t.Fatalf("diff line %q is not mars's", d)
		}
	}
	after := digests()
	for _, name := range h.Regions() {
		if (after[name] != before[name]) != (name == "mars") {
			t.Fatalf("region %s: digest %s -> %s", name, before[name], after[name])
		}
	}
	var maxQueue int64
	h.Region("mars").Read(func(st *state.Store) { maxQueue = st.Shard("mars").MaxQueue })
	if maxQueue != 4100 {
		t.Fatalf("mars max_queue %d", maxQueue)
	}
	// Back to the example through mars alone.
	if a = put(string(src), api.RegionHeader, "mars"); !applied(a).Changed || a.region() != "mars" {
		t.Fatalf("mars mission: %s from %q", a.body, a.region())
	}
	if got := digests(); got["mars"] != before["mars"] {
		t.Fatalf("mars digest %s, want %s", got["mars"], before["mars"])
	}
	// A fifth region is not the host's.
	extra := string(src) + "\nshard \"pluto\" {\n  max_queue = 10\n}\n"
	if a = put(extra); a.status != http.StatusBadRequest || a.errorBody(t).Field != "hcl" || !strings.Contains(a.errorBody(t).Error, "pluto") {
		t.Fatalf("mission with pluto: %d %s", a.status, a.body)
	}
	if got := digests(); got["earth"] != before["earth"] || got["mars"] != before["mars"] {
		t.Fatalf("a refused mission changed digests %v", got)
	}
	// A mission that does not parse is answered with its diagnostics.
	if a = put("shard {"); a.status != http.StatusBadRequest || a.errorBody(t).Field != "hcl" || a.region() != "earth" {
		t.Fatalf("bad mission: %d %s from %q", a.status, a.body, a.region())
	}
}

// TestNewFrontRefuses: the front sets each region's backend, registry and
// leader itself.
func TestNewFrontRefuses(t *testing.T) {
	h := &Host{order: []string{"earth"}}
	for field, cfg := range map[string]api.Config{
		"Backend":   {Backend: &server.Server{}},
		"Registry":  {Registry: prometheus.NewRegistry()},
		"LeaderAPI": {LeaderAPI: func() string { return "" }},
	} {
		if _, err := NewFront(h, cfg); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), field) {
			t.Fatalf("front with %s: %v", field, err)
		}
	}
}
