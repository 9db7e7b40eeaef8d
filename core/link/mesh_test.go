package link

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var fabric = []string{"earth", "luna", "mars", "helios"}

// host is one process of TestMeshTwoHosts: the regions it serves, their
// stores, its mesh and its HTTP server.
type host struct {
	stores map[string]*Store
	mesh   *Mesh
	addr   string

	mu     sync.Mutex
	faults map[string]*Faulty // "from>to" -> the wrapper of that link
}

func newHost(t *testing.T, regions []string, addr string, remote map[string]string, seed uint64) *host {
	t.Helper()
	h := &host{stores: map[string]*Store{}, addr: addr, faults: map[string]*Faulty{}}
	local := map[string]Endpoint{}
	for _, r := range regions {
		s, _ := tempStore(t, r)
		h.stores[r] = s
		local[r] = Endpoint{Outbox: s.Outbox, Inbox: s}
	}
	cfg := MeshConfig{
		Regions: fabric,
		Local:   local,
		Remote:  httpTransport(t, HTTPConfig{Addresses: remote}),
		Wrap: func(from, to string, tr Transport) Transport {
			f := faulty(t, tr, FaultConfig{Seed: seed, DropRate: 0.2, DupRate: 0.2})
			seed++
			h.mu.Lock()
			h.faults[from+">"+to] = f
			h.mu.Unlock()
			return f
		},
		Link: fast("", "", nil, nil),
	}
	m, err := NewMesh(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.mesh = m
	serve(t, addr, m.Handler())
	return h
}

// TestMeshTwoHosts runs the example fabric's four regions on two hosts
// (earth and luna on one, mars and helios on the other): every region sends
// to every other, within a host over the in-process transport and across
// hosts over HTTP, with drops and duplicates on every link. Each inbox
// applies each of its senders' messages once, in order, and every link ends
// up, with its metrics agreeing with its status.
func TestMeshTwoHosts(t *testing.T) {
	addr1, addr2 := loopback(t), loopback(t)
	h1 := newHost(t, []string{"earth", "luna"}, addr1,
		map[string]string{"mars": "http://" + addr2, "helios": "http://" + addr2}, 100)
	h2 := newHost(t, []string{"mars", "helios"}, addr2,
		map[string]string{"earth": "http://" + addr1, "luna": "http://" + addr1}, 200)
	hosts := []*host{h1, h2}
	for _, h := range hosts {
		h.mesh.Start()
		t.Cleanup(h.mesh.Stop)
		if n := len(h.mesh.Status()); n != 6 {
			t.Fatalf("a host of two regions of four runs %d links, want 6", n)
		}
	}
	const n = 25
	for _, h := range hosts {
		for from, s := range h.stores {
			for _, to := range fabric {
				if to != from {
					appendTo(t, s, to, 1, n)
					h.mesh.Notify(from, to)
				}
			}
		}
	}
	inbox := func(region string) *Store {
		if s, ok := h1.stores[region]; ok {
			return s
		}
		return h2.stores[region]
	}
	for _, to := range fabric {
		waitFor(t, to+" to apply every message", func() bool {
			for _, from := range fabric {
				if from != to && through(t, inbox(to), from) != n {
					return false
				}
			}
			return true
		})
	}
	// Calm every link, so that the states compared below hold still.
	for _, h := range hosts {
		h.mu.Lock()
		for _, f := range h.faults {
			if err := f.SetRates(0, 0); err != nil {
				t.Fatal(err)
			}
		}
		h.mu.Unlock()
	}
	for _, h := range hosts {
		waitFor(t, "every link acknowledged", func() bool {
			for _, st := range h.mesh.Status() {
				if st.LastAcked != n || st.State != StateUp {
					return false
				}
			}
			return true
		})
	}
	for _, to := range fabric {
		for _, from := range fabric {
			if from == to {
				continue
			}
			if err := exactlyOnce(received(t, inbox(to), from), n); err != nil {
				t.Errorf("%s -> %s: %v", from, to, err)
			}
		}
	}
	var faults FaultStats
	for _, h := range hosts {
		for _, f := range h.faults {
			st := f.Stats()
			faults.DroppedRequests += st.DroppedRequests
			faults.DroppedAnswers += st.DroppedAnswers
			faults.Duplicates += st.Duplicates
		}
	}
	if faults.DroppedRequests == 0 || faults.DroppedAnswers == 0 || faults.Duplicates == 0 {
		t.Fatalf("too few faults to show anything: %+v", faults)
	}
	checkMetrics(t, h1.mesh)
}

// checkMetrics gathers the mesh's collector through a registry and compares
// it with Status.
func checkMetrics(t *testing.T, m *Mesh) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m.Collector()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			values[f.GetName()+labels(mt)] = value(mt)
		}
	}
	for _, st := range m.Status() {
		pair := fmt.Sprintf("{from=%s,to=%s}", st.From, st.To)
		want := map[string]float64{
			"planetary_link_last_acked_seq" + pair:                                               float64(st.LastAcked),
			"planetary_link_backlog" + pair:                                                      0,
			"planetary_link_messages_sent_total" + pair:                                          float64(st.Sent),
			"planetary_link_errors_total" + pair:                                                 float64(st.Errors),
			fmt.Sprintf("planetary_link_state{from=%s,state=up,to=%s}", st.From, st.To):          1,
			fmt.Sprintf("planetary_link_state{from=%s,state=unreachable,to=%s}", st.From, st.To): 0,
		}
		for k, v := range want {
			got, ok := values[k]
			if !ok || (got != v && !strings.HasSuffix(k, "_total"+pair)) {
				t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
			}
		}
		if values["planetary_link_last_contact_timestamp_seconds"+pair] <= 0 {
			t.Errorf("%s has no last contact", pair)
		}
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

func TestMeshConfigErrors(t *testing.T) {
	mem := NewMemory()
	ep := Endpoint{Outbox: mem.Outbox, Inbox: mem}
	cases := []struct {
		name string
		cfg  MeshConfig
		want string
	}{
		{"bad region", MeshConfig{Regions: []string{"earth", "Mars"}, Local: map[string]Endpoint{"earth": ep}}, `Regions[1]: region name "Mars"`},
		{"twice", MeshConfig{Regions: []string{"earth", "earth"}, Local: map[string]Endpoint{"earth": ep}}, `Regions[1]: "earth" is listed twice`},
		{"none local", MeshConfig{Regions: []string{"earth"}}, "Local: this host serves no region"},
		{"not listed", MeshConfig{Regions: []string{"earth"}, Local: map[string]Endpoint{"luna": ep}}, `Local["luna"]: not one of Regions`},
		{"no inbox", MeshConfig{Regions: []string{"earth"}, Local: map[string]Endpoint{"earth": {Outbox: mem.Outbox}}}, `Local["earth"].Inbox: nil`},
		{"no remote", MeshConfig{Regions: []string{"earth", "mars"}, Local: map[string]Endpoint{"earth": ep}}, `Remote: nil, and region "mars" is not served here`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMesh(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestMeshOneProcess hosts every region in one process, as the dev agent
// does: all twelve links run over the in-process transport.
func TestMeshOneProcess(t *testing.T) {
	mems := map[string]*Memory{}
	local := map[string]Endpoint{}
	for _, r := range fabric {
		mems[r] = NewMemory()
		local[r] = Endpoint{Outbox: mems[r].Outbox, Inbox: mems[r]}
	}
	m, err := NewMesh(MeshConfig{Regions: fabric, Local: local, Link: fast("", "", nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	for from, mem := range mems {
		for _, to := range fabric {
			if to != from {
				if _, err := mem.Append(to, drafts(1, 10)...); err != nil {
					t.Fatal(err)
				}
				m.Notify(from, to)
			}
		}
	}
	waitFor(t, "all twelve links acknowledged", func() bool {
		st := m.Status()
		for _, s := range st {
			if s.LastAcked != 10 {
				return false
			}
		}
		return len(st) == 12
	})
	for to, mem := range mems {
		for _, from := range fabric {
			if from != to {
				if err := exactlyOnce(mem.Received(from), 10); err != nil {
					t.Errorf("%s -> %s: %v", from, to, err)
				}
			}
		}
	}
	m.Stop()
	for _, s := range m.Status() {
		if s.State != StateStopped {
			t.Fatalf("%s -> %s is %s after Stop", s.From, s.To, s.State)
		}
	}
}
