package region

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/raftfsm/state"
)

// UnavailableHeader lists, on a list the front merged from every region,
// the regions whose part is missing because they are stopped.
const UnavailableHeader = "X-Planetary-Unavailable"

// Front is the host's HTTP front: it serves the whole /v1 API for every
// region of the host through one address. It keeps one core/api handler per
// region, each with its region's server as Backend and the same API config
// (ACL, limits), and routes each request to the region it concerns:
//
//   - every ACL write (POST /v1/acl/..., bootstrap, token create and client
//     revoke, and POST /v1/client/join, which issues a client identity)
//     goes to the host's ACL region, whatever region the request names:
//     the host replicates its tokens to the other regions (aclrepl.go);
//   - an explicit region (the X-Planetary-Region header or ?region=) wins;
//     a region the host does not run is a 400 naming the field;
//   - POST /v1/jobs by each job's shard: a batch in one region goes to it
//     whole, a batch spanning regions is checked whole, then split per
//     region and the outcomes merged back in input order;
//   - a route naming a shard (/v1/shard/{name}/...), a node
//     (/v1/node/{id}/..., the described owner commands included) or a job
//     (/v1/job/{id}/...) goes to the region that holds it;
//   - a body naming a shard (locators, pause and resume, node register) goes
//     to that shard's region; a shard register to the region it names;
//   - GET /v1/jobs filtered by shard= or node= goes to that region;
//   - GET /v1/nodes and GET /v1/shards merge every region's list;
//   - PUT /v1/mission goes to every region, each applying its own part;
//   - GET /v1/acl/tokens goes to the ACL region;
//   - every other route goes to the default region, the first declared.
//
// Every answer that a region gave carries X-Planetary-Region (the region,
// or the regions of a split batch or a merged list) and, from one region,
// its X-Planetary-Index. A stopped region's routes answer 503 naming it.
type Front struct {
	h       *Host
	def     string
	apis    map[string]*api.HTTP
	maxBody int64
	log     hclog.Logger
}

// NewFront builds the host's front. cfg is the API config every region's
// handler shares; the front gives each region its own Backend (the
// region's server) and metrics registry, so cfg leaves Backend, Registry
// and LeaderAPI (each region is a raft group of one server) unset.
func NewFront(h *Host, cfg api.Config) (*Front, error) {
	switch {
	case cfg.Backend != nil:
		return nil, fmt.Errorf("%w: front: Backend must be unset: each region's server is its handler's backend", ErrInvalidConfig)
	case cfg.Registry != nil:
		return nil, fmt.Errorf("%w: front: Registry must be unset: each region's handler keeps its own metrics", ErrInvalidConfig)
	case cfg.LeaderAPI != nil:
		return nil, fmt.Errorf("%w: front: LeaderAPI must be unset: each region is a raft group of one server", ErrInvalidConfig)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = api.DefaultConfig().MaxBodyBytes
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	f := &Front{h: h, def: h.order[0], apis: map[string]*api.HTTP{}, maxBody: cfg.MaxBodyBytes, log: log.Named("front")}
	for _, name := range h.order {
		c := cfg
		c.Backend = h.servers[name]
		c.Logger = log.Named("region." + name)
		a, err := api.New(c)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", name, err)
		}
		f.apis[name] = a
	}
	return f, nil
}

// Default is the region that answers the routes no region is named for.
func (f *Front) Default() string { return f.def }

// ServeHTTP implements http.Handler.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/operator/links":
		f.links(w, r)
		return
	case "/v1/operator/handoff":
		f.handOff(w, r)
		return
	case "/v1/regions":
		f.regions(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/job/") && f.crossReroute(w, r) {
		return
	}
	if r.URL.Path == "/v1/jobs/reroute" && f.crossLocatorReroute(w, r) {
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/operator/") && r.Header.Get(api.RegionHeader) == "" &&
		r.URL.Query().Get("region") == "" {
		body, ok := f.readBody(w, r)
		if !ok {
			return
		}
		if systemWrite(r, body) {
			f.fanOut(w, r, body)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	name, ok := f.named(w, r)
	if !ok {
		return
	}
	if aclWrite(r) {
		f.serve(w, r, f.h.acl)
		return
	}
	if name != "" {
		f.serve(w, r, name)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/jobs":
		f.submit(w, r)
	case r.Method == http.MethodGet && (r.URL.Path == "/v1/nodes" || r.URL.Path == "/v1/shards"):
		f.merge(w, r)
	case r.Method == http.MethodPut && r.URL.Path == "/v1/mission":
		f.mission(w, r)
	default:
		name, ok := f.route(w, r)
		if ok {
			f.serve(w, r, name)
		}
	}
}

// aclWrite reports whether r writes the ACL: a POST under /v1/acl/
// (bootstrap, token create, client revoke) or a client's join, which
// issues the client's identity token.
func aclWrite(r *http.Request) bool {
	return r.Method == http.MethodPost && (strings.HasPrefix(r.URL.Path, "/v1/acl/") || r.URL.Path == "/v1/client/join")
}

// named returns the region the request names ("" for none); ok is false
// when it answered a refusal.
func (f *Front) named(w http.ResponseWriter, r *http.Request) (name string, ok bool) {
	hdr, q := r.Header.Get(api.RegionHeader), r.URL.Query().Get("region")
	field := api.RegionHeader
	switch {
	case hdr != "" && q != "" && hdr != q:
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Field: "region",
			Error: fmt.Sprintf("%s %q and ?region=%q name different regions", api.RegionHeader, hdr, q)})
		return "", false
	case hdr == "" && q == "":
		return "", true
	case hdr == "":
		hdr, field = q, "region"
	}
	if f.apis[hdr] == nil {
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Field: field,
			Error: fmt.Sprintf("%s: region %q is not a region of this host (regions: %s)", field, hdr, strings.Join(f.h.order, ", "))})
		return "", false
	}
	return hdr, true
}

// route returns the region a request without an explicit region concerns.
func (f *Front) route(w http.ResponseWriter, r *http.Request) (string, bool) {
	seg := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/"), "/")
	arg := ""
	if len(seg) >= 2 {
		arg, _ = url.PathUnescape(seg[1])
	}
	switch {
	case seg[0] == "acl":
		return f.h.acl, true
	case arg != "" && seg[0] == "shard":
		return f.orDefault(f.shardRegion(arg)), true
	case arg != "" && seg[0] == "node":
		return f.orDefault(f.nodeRegion(arg)), true
	case arg != "" && seg[0] == "job":
		return f.orDefault(f.jobRegion(arg)), true
	case r.Method == http.MethodGet && r.URL.Path == "/v1/jobs":
		q := r.URL.Query()
		if s := q.Get("shard"); s != "" {
			return f.orDefault(f.shardRegion(s)), true
		}
		if n := q.Get("node"); n != "" {
			return f.orDefault(f.nodeRegion(n)), true
		}
	case r.Method == http.MethodPost && bodyRouted[r.URL.Path]:
		body, ok := f.readBody(w, r)
		if !ok {
			return "", false
		}
		var peek struct {
			Name   string `json:"name"`
			Shard  string `json:"shard"`
			Region string `json:"region"`
		}
		_ = json.Unmarshal(body, &peek) // a body that does not decode goes to the default region, which names the error
		if r.URL.Path == "/v1/shards" {
			return f.registerRegion(w, peek.Name, peek.Region)
		}
		return f.orDefault(f.shardRegion(peek.Shard)), true
	}
	return f.def, true
}

// bodyRouted are the routes whose body names the shard they concern.
var bodyRouted = map[string]bool{
	"/v1/jobs/cancel":     true,
	"/v1/jobs/reroute":    true,
	"/v1/operator/pause":  true,
	"/v1/operator/resume": true,
	"/v1/nodes":           true,
	"/v1/shards":          true,
}

// registerRegion is the region a new shard joins: the region its body
// names, else the region of its own name (a shard's region defaults to its
// name), else the default region, as the mission split places a shard that
// names no region of the host.
func (f *Front) registerRegion(w http.ResponseWriter, name, region string) (string, bool) {
	switch {
	case region != "" && f.apis[region] == nil:
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Field: "region",
			Error: fmt.Sprintf("region: %q is not a region of this host (regions: %s)", region, strings.Join(f.h.order, ", "))})
		return "", false
	case region != "":
		return region, true
	case f.apis[name] != nil:
		return name, true
	}
	return f.def, true
}

func (f *Front) orDefault(name string) string {
	if name == "" {
		return f.def
	}
	return name
}

// find returns the first region, in declaration order, whose state holds
// what has reports; a stopped region's last state still counts, so its
// routes answer that it is stopped rather than not found.
func (f *Front) find(has func(*state.Store) bool) string {
	for _, name := range f.h.order {
		found := false
		f.h.servers[name].Read(func(st *state.Store) { found = has(st) })
		if found {
			return name
		}
	}
	return ""
}

// shardRegion is the region holding shard: the one whose state has it,
// else the host's placement of the mission's shards; "" for none.
func (f *Front) shardRegion(shard string) string {
	if shard == "" {
		return ""
	}
	if name := f.find(func(st *state.Store) bool { return st.Shard(shard) != nil }); name != "" {
		return name
	}
	return f.h.RegionOf(shard)
}

// nodeRegion is the region holding node id: the one whose state has it,
// else the region of the mission node's shard; "" for none.
func (f *Front) nodeRegion(id string) string {
	if name := f.find(func(st *state.Store) bool { return st.Node(id) != nil }); name != "" {
		return name
	}
	for _, n := range f.h.cfg.Mission.Nodes {
		if n.ID == id {
			return f.h.RegionOf(n.Shard)
		}
	}
	return ""
}

// jobRegion is the region holding job id, or its tomb once collected; ""
// for none. Job ids carry no region, so every region's state is asked.
func (f *Front) jobRegion(id string) string {
	return f.find(func(st *state.Store) bool {
		if st.Job(id) != nil {
			return true
		}
		_, ok := st.CollectedByID(id)
		return ok
	})
}

// serve hands the request to region name's handler, or answers 503 when
// the region is stopped.
func (f *Front) serve(w http.ResponseWriter, r *http.Request, name string) {
	w.Header().Set(api.RegionHeader, name)
	if f.h.isStopped(name) {
		f.refuse(w, http.StatusServiceUnavailable, stoppedBody(name))
		return
	}
	// The region's applied index when the front routed the request; a
	// blocking read replaces it with the index its answer holds.
	w.Header().Set(api.IndexHeader, strconv.FormatUint(f.h.servers[name].AppliedIndex(), 10))
	f.apis[name].ServeHTTP(w, r)
}

func stoppedBody(name string) api.ErrorBody {
	return api.ErrorBody{Error: fmt.Sprintf("region %s is stopped: its raft group is shut down on this host", name)}
}

// refuse writes an error answer.
func (f *Front) refuse(w http.ResponseWriter, status int, eb api.ErrorBody) {
	if status >= 500 {
		f.log.Warn("request failed", "status", status, "error", eb.Error)
	}
	writeJSON(w, status, eb)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads the request body bounded by MaxBodyBytes and puts it back
// for the region's handler; ok is false when it answered a refusal.
func (f *Front) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, f.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			f.refuse(w, http.StatusRequestEntityTooLarge, api.ErrorBody{Error: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)})
		} else {
			f.refuse(w, http.StatusBadRequest, api.ErrorBody{Error: fmt.Sprintf("read request body: %v", err)})
		}
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, true
}

// submitPeek is what the front reads of a job to route it.
type submitPeek struct {
	ID    string `json:"id"`
	Shard string `json:"shard"`
}

// submit routes POST /v1/jobs by each job's shard. A batch whose jobs are
// all in one region goes to it unchanged. A batch that spans regions (or
// names a shard no region holds) is first checked whole, as the route
// checks it (api.SubmitRefusal), then by shard, so a malformed job or an
// unknown shard refuses the whole batch before any region is asked; it is
// then split per region, the parts submitted side by side, and the
// outcomes merged back in input order.
func (f *Front) submit(w http.ResponseWriter, r *http.Request) {
	body, ok := f.readBody(w, r)
	if !ok {
		return
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) == 0 {
		f.serve(w, r, f.def) // the route names what is wrong with the body
		return
	}
	peeks := make([]submitPeek, len(raw))
	regions := make([]string, len(raw))
	var order []string
	unknown := -1
	for i, m := range raw {
		if err := json.Unmarshal(m, &peeks[i]); err != nil {
			f.serve(w, r, f.def)
			return
		}
		regions[i] = f.shardRegion(peeks[i].Shard)
		switch {
		case regions[i] == "":
			if unknown < 0 {
				unknown = i
			}
		case !slices.Contains(order, regions[i]):
			order = append(order, regions[i])
		}
	}
	if unknown < 0 && len(order) == 1 {
		f.serve(w, r, order[0])
		return
	}
	if status, eb, ok := api.SubmitRefusal(body); !ok {
		f.refuse(w, status, eb)
		return
	}
	if unknown >= 0 {
		field := fmt.Sprintf("jobs[%d].shard", unknown)
		f.refuse(w, http.StatusNotFound, api.ErrorBody{Field: field, Error: fmt.Sprintf(
			"%s: shard %q is in no region of this host; no job of the batch was submitted", field, peeks[unknown].Shard)})
		return
	}
	f.split(w, r, raw, peeks, regions, order)
}

// part is one region's share of a split batch: the input positions of its
// jobs and the region's answer.
type part struct {
	region string
	idx    []int
	ans    *buffered
}

// split submits each region's jobs to its region, side by side, and merges
// the outcomes in input order. When every region refused its part, the
// answer is the first part's refusal (its job positions those of the
// batch); otherwise it is 200, and the jobs of a region that refused its
// part are rejected with a reason naming the region and its refusal: those
// of the other regions are submitted, and a resubmit of the rejected ones
// (by id or key) is safe.
func (f *Front) split(w http.ResponseWriter, r *http.Request, raw []json.RawMessage, peeks []submitPeek, regions, order []string) {
	parts := make([]*part, len(order))
	for k, name := range order {
		parts[k] = &part{region: name}
		for i, reg := range regions {
			if reg == name {
				parts[k].idx = append(parts[k].idx, i)
			}
		}
	}
	var wg sync.WaitGroup
	for _, p := range parts {
		p.ans = newBuffered()
		if f.h.isStopped(p.region) {
			writeJSON(p.ans, http.StatusServiceUnavailable, stoppedBody(p.region))
			continue
		}
		var b bytes.Buffer
		b.WriteByte('[')
		for n, i := range p.idx {
			if n > 0 {
				b.WriteByte(',')
			}
			b.Write(raw[i])
		}
		b.WriteByte(']')
		req := r.Clone(r.Context())
		req.Body = io.NopCloser(bytes.NewReader(b.Bytes()))
		req.ContentLength = int64(b.Len())
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.apis[p.region].ServeHTTP(p.ans, req)
		}()
	}
	wg.Wait()

	out := make([]api.SubmitResult, len(raw))
	var refused []*part
	var refusals []api.ErrorBody
	for _, p := range parts {
		var res []api.SubmitResult
		if p.ans.status == http.StatusOK && json.Unmarshal(p.ans.buf.Bytes(), &res) == nil && len(res) == len(p.idx) {
			for n, i := range p.idx {
				out[i] = res[n]
			}
			continue
		}
		var eb api.ErrorBody
		if json.Unmarshal(p.ans.buf.Bytes(), &eb) != nil || eb.Error == "" {
			eb = api.ErrorBody{Error: fmt.Sprintf("status %d", p.ans.status)}
		}
		eb.Field, eb.Error = renumber(eb.Field, p.idx), renumber(eb.Error, p.idx)
		refused, refusals = append(refused, p), append(refusals, eb)
	}
	w.Header().Set(api.RegionHeader, strings.Join(order, ","))
	if len(refused) == len(parts) {
		first := refused[0]
		w.Header().Set(api.RegionHeader, first.region)
		if ra := first.ans.Header().Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		f.refuse(w, first.ans.status, refusals[0])
		return
	}
	for k, p := range refused {
		for _, i := range p.idx {
			out[i] = api.SubmitResult{ID: peeks[i].ID, Status: api.StatusRejected,
				Reason: fmt.Sprintf("region %s refused its part of the batch (%d): %s", p.region, p.ans.status, refusals[k].Error)}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

var jobIndex = regexp.MustCompile(`jobs\[(\d+)\]`)

// renumber rewrites the job positions of a part's answer (jobs[n]) to the
// positions of the batch.
func renumber(s string, idx []int) string {
	return jobIndex.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.Atoi(m[len("jobs[") : len(m)-1])
		if err != nil || n >= len(idx) {
			return m
		}
		return fmt.Sprintf("jobs[%d]", idx[n])
	})
}

// merge answers GET /v1/nodes and GET /v1/shards with every region's list,
// in declaration order. A stopped region's part is left out and the region
// named in UnavailableHeader; a region's refusal (a bad parameter, a token
// it does not hold) is the answer. A merged list has no one raft index, so
// it carries no X-Planetary-Index, and a blocking query must name its
// region.
func (f *Front) merge(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("index") != "" {
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Field: "region", Error: fmt.Sprintf(
			"index: a blocking query waits on one region's raft index; name the region with %s or ?region=", api.RegionHeader)})
		return
	}
	items := []json.RawMessage{}
	var answered, stopped []string
	for _, name := range f.h.order {
		if f.h.isStopped(name) {
			stopped = append(stopped, name)
			continue
		}
		ans := newBuffered()
		f.apis[name].ServeHTTP(ans, r.Clone(r.Context()))
		var list []json.RawMessage
		if ans.status != http.StatusOK || json.Unmarshal(ans.buf.Bytes(), &list) != nil {
			ans.copyTo(w, name)
			return
		}
		items = append(items, list...)
		answered = append(answered, name)
	}
	if len(answered) == 0 {
		w.Header().Set(UnavailableHeader, strings.Join(stopped, ","))
		f.refuse(w, http.StatusServiceUnavailable, api.ErrorBody{Error: "every region of this host is stopped"})
		return
	}
	w.Header().Set(api.RegionHeader, strings.Join(answered, ","))
	if len(stopped) > 0 {
		w.Header().Set(UnavailableHeader, strings.Join(stopped, ","))
	}
	writeJSON(w, http.StatusOK, items)
}

// mission applies PUT /v1/mission to every region, in declaration order:
// each region's server applies its own part of the mission (its handler
// splits it by the server's region). The front parses the mission first and
// refuses one whose regions are not the host's (a region host's regions are
// fixed when it starts), naming hcl, and asks no region while one is
// stopped; a mission that does not parse goes to the default region, which
// answers its diagnostics. The answer merges the regions': changed when
// any region's part changed, the whole mission's digest, every region's
// diff lines prefixed with the region, and no index (each region has its
// own). A region that refuses its part stops the fan-out; its refusal,
// naming the regions that applied theirs, is the answer.
func (f *Front) mission(w http.ResponseWriter, r *http.Request) {
	body, ok := f.readBody(w, r)
	if !ok {
		return
	}
	var req api.MissionApply
	if json.Unmarshal(body, &req) != nil || req.HCL == "" {
		f.serve(w, r, f.def)
		return
	}
	if req.Filename == "" {
		req.Filename = "mission.hcl"
	}
	m, diags := mission.ParseMission([]byte(req.HCL), req.Filename)
	if diags.HasErrors() || m == nil {
		f.serve(w, r, f.def)
		return
	}
	got, want := m.RegionNames(), slices.Clone(f.h.order)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Field: "hcl", Error: fmt.Sprintf(
			"hcl: mission %s has regions %s, this host runs %s: a region host's regions are fixed when it starts",
			m.Name, strings.Join(m.RegionNames(), ", "), strings.Join(f.h.order, ", "))})
		return
	}
	for _, name := range f.h.order {
		if f.h.isStopped(name) {
			w.Header().Set(api.RegionHeader, name)
			f.refuse(w, http.StatusServiceUnavailable, stoppedBody(name))
			return
		}
	}
	out := api.MissionApplied{Digest: m.Digest(), Diff: []string{}}
	var done []string
	for _, name := range f.h.order {
		ans := newBuffered()
		sub := r.Clone(r.Context())
		sub.Body = io.NopCloser(bytes.NewReader(body))
		sub.ContentLength = int64(len(body))
		f.apis[name].ServeHTTP(ans, sub)
		var part api.MissionApplied
		if ans.status != http.StatusOK || json.Unmarshal(ans.buf.Bytes(), &part) != nil {
			var eb api.ErrorBody
			if json.Unmarshal(ans.buf.Bytes(), &eb) != nil || eb.Error == "" {
				eb = api.ErrorBody{Error: fmt.Sprintf("status %d", ans.status)}
			}
			eb.Error = fmt.Sprintf("region %s: %s", name, eb.Error)
			if len(done) > 0 {
				eb.Error += fmt.Sprintf(" (regions %s applied their part)", strings.Join(done, ", "))
			}
			w.Header().Set(api.RegionHeader, name)
			f.refuse(w, ans.status, eb)
			return
		}
		out.Changed = out.Changed || part.Changed
		for _, d := range part.Diff {
			out.Diff = append(out.Diff, name+": "+d)
		}
		done = append(done, name)
	}
	w.Header().Set(api.RegionHeader, strings.Join(done, ","))
	writeJSON(w, http.StatusOK, out)
}

// buffered is a ResponseWriter that keeps a region's answer for the front
// to merge.
type buffered struct {
	header http.Header
	status int
	buf    bytes.Buffer
	wrote  bool
}

func newBuffered() *buffered { return &buffered{header: http.Header{}, status: http.StatusOK} }

func (b *buffered) Header() http.Header { return b.header }

func (b *buffered) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *buffered) Write(p []byte) (int, error) {
	b.wrote = true
	return b.buf.Write(p)
}

// copyTo writes the kept answer to w, as region name's.
func (b *buffered) copyTo(w http.ResponseWriter, name string) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Set(api.RegionHeader, name)
	w.WriteHeader(b.status)
	_, _ = w.Write(b.buf.Bytes())
}

var _ http.Handler = (*Front)(nil)
