package region

import (
	"net/http"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/raftfsm/state"
)

// The host's overview (GET /v1/regions on the front): every region with
// its leader and raft index, the hand-offs it holds open, and every link
// between two regions with its injected faults and the state and backlog
// of its checkpoint and hand-off traffic. The console's Regions panel
// reads it.

// RegionView is one region of the host.
type RegionView struct {
	Name    string   `json:"name"`
	Shards  []string `json:"shards"`
	Leader  string   `json:"leader,omitempty"`
	Stopped bool     `json:"stopped,omitempty"`
	ACL     bool     `json:"acl,omitempty"`
	Index   uint64   `json:"index"`
	// OpenHandOffs counts the hand-offs out of the region not closed yet.
	OpenHandOffs int `json:"open_handoffs"`
}

// LinkView is the links from one region to another.
type LinkView struct {
	From        string `json:"from"`
	To          string `json:"to"`
	LatencyNs   int64  `json:"latency_ns"`
	Partitioned bool   `json:"partitioned"`
	// State and Backlog of the checkpoint link and the hand-off link
	// ("" when the host runs no such link).
	Checkpoints     link.State `json:"checkpoints,omitempty"`
	CheckpointQueue uint64     `json:"checkpoint_backlog"`
	HandOffs        link.State `json:"handoffs,omitempty"`
	HandOffQueue    uint64     `json:"handoff_backlog"`
}

// Overview is GET /v1/regions.
type Overview struct {
	Regions   []RegionView  `json:"regions"`
	Links     []LinkView    `json:"links"`
	Spillover []SpillStatus `json:"spillover,omitempty"`
}

// Overview returns the host's regions, links and cross-region spillover.
func (h *Host) Overview() Overview {
	out := Overview{Regions: []RegionView{}, Links: []LinkView{}, Spillover: h.Spillover()}
	shards := map[string][]string{}
	for _, r := range h.cfg.Mission.Regions() {
		shards[r.Name] = r.Shards
	}
	for _, name := range h.order {
		v := RegionView{Name: name, Shards: shards[name], Stopped: h.isStopped(name), ACL: name == h.acl}
		if !v.Stopped {
			_, v.Leader = h.Leader(name)
			h.servers[name].Read(func(st *state.Store) {
				v.Index, v.OpenHandOffs = st.AppliedIndex(), st.InFlight()
			})
		}
		out.Regions = append(out.Regions, v)
	}
	cps, hos := map[[2]string]link.Status{}, map[[2]string]link.Status{}
	for _, s := range h.Publishing() {
		cps[[2]string{s.From, s.To}] = s.Link
	}
	for _, s := range h.HandOffs() {
		hos[[2]string{s.From, s.To}] = s.Link
	}
	for _, f := range h.LinkFaults() {
		k := [2]string{f.From, f.To}
		out.Links = append(out.Links, LinkView{From: f.From, To: f.To, LatencyNs: int64(f.Latency), Partitioned: f.Partitioned,
			Checkpoints: cps[k].State, CheckpointQueue: cps[k].Backlog, HandOffs: hos[k].State, HandOffQueue: hos[k].Backlog})
	}
	return out
}

// regions serves GET /v1/regions (read access, checked against the ACL
// region's tokens).
func (f *Front) regions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		f.refuse(w, http.StatusMethodNotAllowed, api.ErrorBody{Error: "GET /v1/regions"})
		return
	}
	if status, msg := f.apis[f.h.acl].Authorize(r, false); status != 0 {
		f.refuse(w, status, api.ErrorBody{Error: msg})
		return
	}
	writeJSON(w, http.StatusOK, f.h.Overview())
}
