package region

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

// handOffRequest is the body of POST /v1/operator/handoff.
type handOffRequest struct {
	IDs     []string `json:"ids"`
	ToShard string   `json:"to_shard"`
}

// handOff serves POST /v1/operator/handoff (management): Host.HandOff of
// queued jobs to a shard of another region, answering one outcome a job,
// in input order (accepted: the hand-off id as reason; rejected: why).
func (f *Front) handOff(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.refuse(w, http.StatusMethodNotAllowed, api.ErrorBody{Error: "POST /v1/operator/handoff"})
		return
	}
	if status, msg := f.apis[f.h.acl].Authorize(r, true); status != 0 {
		f.refuse(w, status, api.ErrorBody{Error: msg})
		return
	}
	raw, ok := f.readBody(w, r)
	if !ok {
		return
	}
	var req handOffRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Error: "body: " + err.Error()})
		return
	}
	if len(req.IDs) == 0 {
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Error: "ids: no job to hand off", Field: "ids"})
		return
	}
	outs, err := f.h.HandOff(r.Context(), req.IDs, req.ToShard)
	if err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, ErrNoRegion) || errors.Is(err, ErrInvalidConfig) {
			status = http.StatusBadRequest
		}
		f.refuse(w, status, api.ErrorBody{Error: err.Error(), Field: "to_shard"})
		return
	}
	res := make([]api.SubmitResult, len(outs))
	for i, o := range outs {
		res[i] = api.SubmitResult{ID: o.ID, Status: api.StatusRejected, Reason: o.Reason}
		if o.Status == raftfsm.Applied {
			res[i].Status = api.StatusAccepted
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// crossReroute serves POST /v1/job/{id}/reroute when the target shard is
// in another region than the job: the move is a hand-off (Host.HandOff),
// answered with the hand-off id once it is open (index 0: it commits in two
// regions' logs, not at one index). ok is false when the request is not
// such a reroute; the caller routes it as usual.
func (f *Front) crossReroute(w http.ResponseWriter, r *http.Request) (ok bool) {
	id, rest, found := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/job/"), "/")
	if r.Method != http.MethodPost || !found || rest != "reroute" || id == "" || r.Header.Get(api.RegionHeader) != "" ||
		r.URL.Query().Get("region") != "" {
		return false
	}
	raw, ok := f.readBody(w, r)
	if !ok {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var req api.RerouteRequest
	if json.Unmarshal(raw, &req) != nil || req.Shard == "" {
		return false
	}
	id, _ = url.PathUnescape(id)
	from, to := f.jobRegion(id), f.h.RegionOf(req.Shard)
	if from == "" || to == "" || from == to {
		return false
	}
	if status, msg := f.apis[f.h.acl].Authorize(r, true); status != 0 {
		f.refuse(w, status, api.ErrorBody{Error: msg})
		return true
	}
	outs, err := f.h.HandOff(r.Context(), []string{id}, req.Shard)
	if err != nil {
		f.refuse(w, http.StatusServiceUnavailable, api.ErrorBody{Error: err.Error()})
		return true
	}
	if o := outs[0]; o.Status != raftfsm.Applied {
		f.refuse(w, http.StatusConflict, api.ErrorBody{Error: fmt.Sprintf("job %s cannot be handed to %s (region %s): %s", id, req.Shard, to, o.Reason)})
		return true
	}
	w.Header().Set(api.RegionHeader, from)
	writeJSON(w, http.StatusOK, struct {
		Index   uint64 `json:"index"`
		HandOff string `json:"handoff"`
		From    string `json:"from_region"`
		To      string `json:"to_region"`
	}{0, outs[0].Reason, from, to})
	return true
}

// crossLocatorReroute serves POST /v1/jobs/reroute when the locator's
// target shard is in another region than its shard: the Tail newest queued
// jobs of the shard (after skipping Offset from the tail; jobs already in a
// hand-off are passed over) are handed to the target (Host.HandOff), and
// the answer lists the hand-offs begun. In-flight jobs cannot leave their
// region: a locator with in_flight is refused naming the field. ok is false
// when the request is not such a reroute.
func (f *Front) crossLocatorReroute(w http.ResponseWriter, r *http.Request) (ok bool) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/jobs/reroute" || r.Header.Get(api.RegionHeader) != "" || r.URL.Query().Get("region") != "" {
		return false
	}
	raw, ok := f.readBody(w, r)
	if !ok {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var loc api.Locator
	if json.Unmarshal(raw, &loc) != nil || loc.Shard == "" || loc.Target == "" {
		return false
	}
	from, to := f.h.RegionOf(loc.Shard), f.h.RegionOf(loc.Target)
	if from == "" || to == "" || from == to {
		return false
	}
	if status, msg := f.apis[f.h.acl].Authorize(r, true); status != 0 {
		f.refuse(w, status, api.ErrorBody{Error: msg})
		return true
	}
	switch {
	case loc.InFlight:
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Field: "in_flight",
			Error: fmt.Sprintf("in_flight: jobs assigned or running in %s cannot leave region %s; reroute queued jobs only", loc.Shard, from)})
		return true
	case loc.Tail <= 0:
		f.refuse(w, http.StatusBadRequest, api.ErrorBody{Field: "tail", Error: "tail: pick at least one job"})
		return true
	case f.h.isStopped(from):
		f.refuse(w, http.StatusServiceUnavailable, stoppedBody(from))
		return true
	}
	var ids []string
	f.h.servers[from].Read(func(st *state.Store) {
		skip := loc.Offset
		st.QueueReverse(loc.Shard, func(j *state.Job) bool {
			if st.HandOffOf(j.Seq) != "" {
				return true
			}
			if skip > 0 {
				skip--
				return true
			}
			ids = append(ids, j.ID)
			return int64(len(ids)) < loc.Tail
		})
	})
	outs, err := f.h.HandOff(r.Context(), ids, loc.Target)
	if err != nil {
		f.refuse(w, http.StatusServiceUnavailable, api.ErrorBody{Error: err.Error()})
		return true
	}
	type begun struct {
		Job     string `json:"job"`
		HandOff string `json:"handoff,omitempty"`
		Refused string `json:"refused,omitempty"`
	}
	res := struct {
		Index    uint64  `json:"index"`
		From     string  `json:"from_region"`
		To       string  `json:"to_region"`
		HandOffs []begun `json:"handoffs"`
	}{From: from, To: to, HandOffs: []begun{}}
	for _, o := range outs {
		if o.Status == raftfsm.Applied {
			res.HandOffs = append(res.HandOffs, begun{Job: o.ID, HandOff: o.Reason})
		} else {
			res.HandOffs = append(res.HandOffs, begun{Job: o.ID, Refused: o.Reason})
		}
	}
	w.Header().Set(api.RegionHeader, from)
	writeJSON(w, http.StatusOK, res)
	return true
}
