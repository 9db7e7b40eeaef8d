package region

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/link"
)

// Link faults of the host: every link between two regions (checkpoints,
// ACL tokens, and whatever else travels between them) runs through one
// fault layer per ordered pair of regions, so an operator or a drill sets a
// pair's one-way latency or cuts it once, for every kind of traffic
// (SetLinkFault; the front serves it as /v1/operator/links). Faults start
// off: no latency, no partition.

// LinkFault is the fault state of the links from one region to another.
type LinkFault struct {
	From        string        `json:"from"`
	To          string        `json:"to"`
	Latency     time.Duration `json:"latency_ns"`
	Partitioned bool          `json:"partitioned"`
}

// linkFaults holds the host's fault layers by ordered pair of regions.
type linkFaults struct {
	mu     sync.Mutex
	state  map[[2]string]LinkFault
	layers map[[2]string][]*link.Faulty
}

func newFaults() *linkFaults {
	return &linkFaults{state: map[[2]string]LinkFault{}, layers: map[[2]string][]*link.Faulty{}}
}

// wrap puts t behind a fault layer of the pair from→to, in the pair's
// current state; next, when set, wraps t first (a caller's own layer).
func (h *Host) wrapFaults(next func(from, to string, t link.Transport) link.Transport) func(from, to string, t link.Transport) link.Transport {
	return func(from, to string, t link.Transport) link.Transport {
		if next != nil {
			t = next(from, to, t)
		}
		f, err := link.NewFaulty(t, link.FaultConfig{})
		if err != nil {
			return t
		}
		fs := h.faults
		fs.mu.Lock()
		defer fs.mu.Unlock()
		k := [2]string{from, to}
		fs.layers[k] = append(fs.layers[k], f)
		apply(f, fs.state[k])
		return f
	}
}

func apply(f *link.Faulty, s LinkFault) {
	f.SetLatency(s.Latency)
	if s.Partitioned {
		f.Partition()
	} else {
		f.Heal()
	}
}

// SetLinkFault sets the one-way latency and the partition of every link
// from f.From to f.To; the other direction is its own pair.
func (h *Host) SetLinkFault(f LinkFault) error {
	for _, r := range []struct{ field, name string }{{"from", f.From}, {"to", f.To}} {
		if !slices.Contains(h.order, r.name) {
			return fmt.Errorf("%w: %s: %q is not a region of this host (regions: %s)", ErrNoRegion, r.field, r.name, strings.Join(h.order, ", "))
		}
	}
	if f.From == f.To {
		return fmt.Errorf("%w: to: a region has no link to itself", ErrInvalidConfig)
	}
	if f.Latency < 0 {
		return fmt.Errorf("%w: latency_ns: %d is negative", ErrInvalidConfig, f.Latency)
	}
	fs := h.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	k := [2]string{f.From, f.To}
	fs.state[k] = f
	for _, l := range fs.layers[k] {
		apply(l, f)
	}
	return nil
}

// LinkFaults lists the fault state of every ordered pair of regions, in
// region order.
func (h *Host) LinkFaults() []LinkFault {
	fs := h.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []LinkFault
	for _, from := range h.order {
		for _, to := range h.order {
			if from == to {
				continue
			}
			s := fs.state[[2]string{from, to}]
			s.From, s.To = from, to
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return slices.Index(h.order, out[i].From) < slices.Index(h.order, out[j].From)
	})
	return out
}

// linkFaultRequest is the body of POST /v1/operator/links.
type linkFaultRequest struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Latency     string `json:"latency"`
	Partitioned bool   `json:"partitioned"`
}

// links serves GET /v1/operator/links (read access: every pair's faults)
// and POST /v1/operator/links (management: set one pair's latency and
// partition, body {from, to, latency: "2s", partitioned}), checked against
// the ACL region's tokens.
func (f *Front) links(w http.ResponseWriter, r *http.Request) {
	manage := r.Method == http.MethodPost
	if r.Method != http.MethodGet && !manage {
		f.refuse(w, http.StatusMethodNotAllowed, api.ErrorBody{Error: "GET or POST /v1/operator/links"})
		return
	}
	if status, msg := f.apis[f.h.acl].Authorize(r, manage); status != 0 {
		f.refuse(w, status, api.ErrorBody{Error: msg})
		return
	}
	if manage {
		raw, ok := f.readBody(w, r)
		if !ok {
			return
		}
		var req linkFaultRequest
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			f.refuse(w, http.StatusBadRequest, api.ErrorBody{Error: "body: " + err.Error()})
			return
		}
		lf := LinkFault{From: req.From, To: req.To, Partitioned: req.Partitioned}
		if req.Latency != "" {
			d, err := time.ParseDuration(req.Latency)
			if err != nil {
				f.refuse(w, http.StatusBadRequest, api.ErrorBody{Error: fmt.Sprintf("latency: %q is not a duration such as \"2s\"", req.Latency), Field: "latency"})
				return
			}
			lf.Latency = d
		}
		if err := f.h.SetLinkFault(lf); err != nil {
			field := "to"
			if strings.Contains(err.Error(), "from:") {
				field = "from"
			} else if strings.Contains(err.Error(), "latency") {
				field = "latency"
			}
			f.refuse(w, http.StatusBadRequest, api.ErrorBody{Error: err.Error(), Field: field})
			return
		}
	}
	writeJSON(w, http.StatusOK, f.h.LinkFaults())
}
