package region

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	api "github.com/planetary/planetary/core/api/client"
)

// System-wide owner writes on a region host: a pause or resume of the
// whole system (no shard), a retargeting of checkpoints or reports, and a
// garbage collection pass (answered with the counts summed),
// concern every region, so the front sends each to every region's handler
// in region order and merges the answers: the first region's index, and
// each region's under "regions". A region that refuses stops the fan-out
// with its refusal, naming the regions that applied theirs; a stopped
// region refuses it whole before any region applies anything.

// systemWrite reports whether r is such a write.
func systemWrite(r *http.Request, body []byte) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch r.URL.Path {
	case "/v1/operator/checkpoint", "/v1/operator/reporting", "/v1/operator/gc":
		return true
	case "/v1/operator/pause", "/v1/operator/resume":
		var req api.PauseRequest
		return len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &req) == nil && req.Shard == ""
	}
	return false
}

// fanOut sends the write to every region and merges the answers.
func (f *Front) fanOut(w http.ResponseWriter, r *http.Request, body []byte) {
	for _, name := range f.h.order {
		if f.h.isStopped(name) {
			w.Header().Set(api.RegionHeader, name)
			f.refuse(w, http.StatusServiceUnavailable, stoppedBody(name))
			return
		}
	}
	var (
		done []string
		raws [][]byte
	)
	for _, name := range f.h.order {
		ans := newBuffered()
		sub := r.Clone(r.Context())
		sub.Body = io.NopCloser(bytes.NewReader(body))
		sub.ContentLength = int64(len(body))
		f.apis[name].ServeHTTP(ans, sub)
		if ans.status != http.StatusOK {
			var eb api.ErrorBody
			if json.Unmarshal(ans.buf.Bytes(), &eb) != nil || eb.Error == "" {
				eb = api.ErrorBody{Error: fmt.Sprintf("status %d", ans.status)}
			}
			eb.Error = fmt.Sprintf("region %s: %s", name, eb.Error)
			if len(done) > 0 {
				eb.Error += fmt.Sprintf(" (regions %s applied it)", strings.Join(done, ", "))
			}
			w.Header().Set(api.RegionHeader, name)
			f.refuse(w, ans.status, eb)
			return
		}
		done = append(done, name)
		raws = append(raws, ans.buf.Bytes())
	}
	w.Header().Set(api.RegionHeader, strings.Join(done, ","))
	if r.URL.Path == "/v1/operator/gc" {
		writeJSON(w, http.StatusOK, mergeGC(done, raws))
		return
	}
	out := struct {
		Index   uint64            `json:"index"`
		Regions map[string]uint64 `json:"regions"`
	}{Regions: map[string]uint64{}}
	for i, name := range done {
		var part api.WriteResult
		_ = json.Unmarshal(raws[i], &part)
		if i == 0 {
			out.Index = part.Index
		}
		out.Regions[name] = part.Index
	}
	writeJSON(w, http.StatusOK, out)
}

// gcAnswer is a garbage collection pass over every region: the counts
// summed, the first region's cut-off, index and range, and each region's
// own answer.
type gcAnswer struct {
	api.GCResult
	Regions map[string]api.GCResult `json:"regions"`
}

func mergeGC(names []string, raws [][]byte) gcAnswer {
	out := gcAnswer{Regions: map[string]api.GCResult{}}
	for i, name := range names {
		var g api.GCResult
		_ = json.Unmarshal(raws[i], &g)
		out.Regions[name] = g
		if i == 0 {
			out.Before, out.ForgetBefore, out.First, out.Last, out.Index = g.Before, g.ForgetBefore, g.First, g.Last, g.Index
		}
		out.Collected += g.Collected
		out.Forgotten += g.Forgotten
		out.Skipped += g.Skipped
		out.Batches += g.Batches
		out.LiveJobs += g.LiveJobs
		out.Tombs += g.Tombs
	}
	return out
}
