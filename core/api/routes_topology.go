package api

import (
	"io"
	"net/http"
	"time"

	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// topologySVG answers GET /v1/topology.svg: the live fabric (shards, routers,
// nodes by health, spillover flows; with more than one region, the regions
// of the global ledger) rendered by report.SVG from the replicated state. Read access, like the other views.
func (h *HTTP) topologySVG(w http.ResponseWriter, r *http.Request) (any, error) {
	var in report.Input
	h.b.Read(func(s *state.Store) { in = report.FromStoreIn(s, h.b.Region()) })
	// The other regions' checkpoints are aged at this read, and the local
	// region's leader named, as GET /v1/ledger does.
	in.GeneratedAt = time.Now()
	h.nameLeader(in.Ledger.Regions)
	svg := report.SVG(in)
	w.Header().Set("Content-Type", "image/svg+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, svg); err != nil {
		h.log.Debug("topology write", "error", err)
	}
	return nil, nil
}
