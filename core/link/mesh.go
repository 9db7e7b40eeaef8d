package link

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Endpoint is what a region this host serves gives the mesh: an outbox per
// region it sends to, and its inbox.
type Endpoint struct {
	Outbox func(to string) Outbox
	Inbox  Inbox
}

// MeshConfig configures the links of one host.
type MeshConfig struct {
	// Regions names every region of the fabric, this host's and the others.
	Regions []string
	// Local holds the endpoints of the regions this host serves.
	Local map[string]Endpoint
	// Remote carries batches to regions this host does not serve (an
	// HTTPTransport); nil when it serves them all.
	Remote Transport
	// Wrap, when set, wraps the transport of each link (fault injection:
	// return a Faulty and keep it).
	Wrap func(from, to string, t Transport) Transport
	// Link is the template of every link's Config; its From, To, Outbox and
	// Transport are set by the mesh.
	Link Config
}

// Mesh runs one Link for each ordered pair (from, to) of regions where from
// is served by this host, and serves the inboxes of its regions to other
// hosts (Handler).
type Mesh struct {
	local   *Local
	handler *Handler
	links   []*Link // sorted by from, then to
	byPair  map[[2]string]*Link
}

// NewMesh builds the links of cfg; none runs before Start.
func NewMesh(cfg MeshConfig) (*Mesh, error) {
	regions, err := meshRegions(cfg)
	if err != nil {
		return nil, err
	}
	m := &Mesh{local: NewLocal(), handler: NewHandler(), byPair: map[[2]string]*Link{}}
	for _, r := range regions {
		if ep, ok := cfg.Local[r]; ok {
			m.local.Add(r, ep.Inbox)
			m.handler.Add(r, ep.Inbox)
		}
	}
	for _, from := range regions {
		ep, ok := cfg.Local[from]
		if !ok {
			continue
		}
		for _, to := range regions {
			if to == from {
				continue
			}
			l, err := m.newLink(cfg, ep, from, to)
			if err != nil {
				return nil, err
			}
			m.links = append(m.links, l)
			m.byPair[[2]string{from, to}] = l
		}
	}
	return m, nil
}

func (m *Mesh) newLink(cfg MeshConfig, ep Endpoint, from, to string) (*Link, error) {
	var t Transport = m.local
	if _, ok := cfg.Local[to]; !ok {
		t = cfg.Remote
	}
	if t == nil {
		return nil, fmt.Errorf("link: Remote: nil, and region %q is not served here", to)
	}
	if cfg.Wrap != nil {
		t = cfg.Wrap(from, to, t)
	}
	lc := cfg.Link
	lc.From, lc.To, lc.Outbox, lc.Transport = from, to, ep.Outbox(to), t
	return New(lc)
}

// meshRegions checks cfg's regions and returns them sorted.
func meshRegions(cfg MeshConfig) ([]string, error) {
	seen := map[string]bool{}
	for i, r := range cfg.Regions {
		if err := CheckName(fmt.Sprintf("Regions[%d]", i), r); err != nil {
			return nil, err
		}
		if seen[r] {
			return nil, fmt.Errorf("link: Regions[%d]: %q is listed twice", i, r)
		}
		seen[r] = true
	}
	if len(cfg.Local) == 0 {
		return nil, errors.New("link: Local: this host serves no region")
	}
	for r, ep := range cfg.Local {
		switch {
		case !seen[r]:
			return nil, fmt.Errorf("link: Local[%q]: not one of Regions", r)
		case ep.Outbox == nil:
			return nil, fmt.Errorf("link: Local[%q].Outbox: nil", r)
		case ep.Inbox == nil:
			return nil, fmt.Errorf("link: Local[%q].Inbox: nil", r)
		}
	}
	out := append([]string(nil), cfg.Regions...)
	sort.Strings(out)
	return out, nil
}

// Start starts every link.
func (m *Mesh) Start() {
	for _, l := range m.links {
		l.Start()
	}
}

// Stop stops every link and waits for them.
func (m *Mesh) Stop() {
	var wg sync.WaitGroup
	for _, l := range m.links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Stop()
		}()
	}
	wg.Wait()
}

// Link returns the link from one region to another, nil when from is not
// served here.
func (m *Mesh) Link(from, to string) *Link { return m.byPair[[2]string{from, to}] }

// Notify tells the link from one region to another that its outbox grew.
func (m *Mesh) Notify(from, to string) {
	if l := m.Link(from, to); l != nil {
		l.Notify()
	}
}

// Status returns the status of every link, by from then to.
func (m *Mesh) Status() []Status {
	out := make([]Status, len(m.links))
	for i, l := range m.links {
		out[i] = l.Status()
	}
	return out
}

// Handler serves this host's inboxes to the links of other hosts at
// POST /v1/link/{from}.
func (m *Mesh) Handler() *Handler { return m.handler }
