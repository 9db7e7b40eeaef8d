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
