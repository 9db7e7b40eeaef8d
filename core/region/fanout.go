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
// whole system (no shard), and a retargeting of checkpoints or reports,
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
	case "/v1/operator/checkpoint", "/v1/operator/reporting":
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
	out := struct {
		Index   uint64            `json:"index"`
		Regions map[string]uint64 `json:"regions"`
	}{Regions: map[string]uint64{}}
	var done []string
	for _, name := range f.h.order {
		ans := newBuffered()
		sub := r.Clone(r.Context())
		sub.Body = io.NopCloser(bytes.NewReader(body))
		sub.ContentLength = int64(len(body))
		f.apis[name].ServeHTTP(ans, sub)
		var part api.WriteResult
		if ans.status != http.StatusOK || json.Unmarshal(ans.buf.Bytes(), &part) != nil {
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
		if len(done) == 0 {
			out.Index = part.Index
		}
		out.Regions[name] = part.Index
		done = append(done, name)
	}
	w.Header().Set(api.RegionHeader, strings.Join(done, ","))
	writeJSON(w, http.StatusOK, out)
}
