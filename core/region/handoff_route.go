package region

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

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
