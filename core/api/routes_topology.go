package api

import (
	"io"
	"net/http"

	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// topologySVG answers GET /v1/topology.svg: the live fabric (shards, routers,
// nodes by health, spillover flows) rendered by report.SVG from the
// replicated state. Read access, like the other views.
func (h *HTTP) topologySVG(w http.ResponseWriter, r *http.Request) (any, error) {
	var in report.Input
	h.b.Read(func(s *state.Store) { in = report.FromStore(s) })
	svg := report.SVG(in)
	w.Header().Set("Content-Type", "image/svg+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, svg); err != nil {
		h.log.Debug("topology write", "error", err)
	}
	return nil, nil
}
