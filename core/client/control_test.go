package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	httpapi "github.com/planetary/planetary/core/api"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/core/testport"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/planetary/planetary/sdk/host"
)

// cluster is three servers over TCP raft and BoltDB, each behind its API
// with forwarding on and ACLs off, holding e2eMission.
type cluster struct {
	servers []*server.Server
	cfgs    []server.Config
	urls    []string
	mgmt    *api.Client // through the leader
	nodes   []state.Node
	catalog *testCatalog
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	bin, err := buildPlugin()
	if err != nil {
		t.Fatal(err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Error})
	root := t.TempDir()
	c := &cluster{catalog: &testCatalog{bin: bin, log: logger, plugins: map[string]*host.Plugin{}}}
	t.Cleanup(c.catalog.close)
	var peers []server.PeerAddr
	for i := range 3 {
		cfg := server.DefaultConfig()
		cfg.NodeID, cfg.DataDir, cfg.BindAddr = fmt.Sprintf("s%d", i), t.TempDir(), testport.Addr(t)
		cfg.Logger, cfg.AllowedRoots = logger, []string{root}
		cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
		// No node goes down while the tests keep their client away.
		cfg.HeartbeatTTL = time.Hour
		cfg.SchedulerTick = 50 * time.Millisecond
		s, err := server.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown() })
		c.servers = append(c.servers, s)
		c.cfgs = append(c.cfgs, cfg)
		peers = append(peers, server.PeerAddr{ID: cfg.NodeID, Address: s.LocalAddr()})
	}
	for _, s := range c.servers {
		c.urls = append(c.urls, serveAPI(t, s))
	}
	for _, s := range c.servers {
		for j, o := range c.servers {
			s.SetHTTPAddr(o.ID(), c.urls[j])
		}
		if err := s.BootstrapCluster(peers); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "every server to know the leader", func() bool {
		for _, s := range c.servers {
			if s.LeaderHTTPAddr() == "" {
				return false
			}
		}
		return c.leader() >= 0
	})
	c.mgmt, _ = api.NewClient(api.ClientConfig{Address: c.urls[c.leaderNow(t)]})
	if _, err := c.mgmt.ApplyMission(context.Background(), "e2e.hcl", []byte(replaceRoot(e2eMission, root)), "test"); err != nil {
		t.Fatal(err)
	}
	c.servers[c.leaderNow(t)].Read(func(s *state.Store) {
		for _, n := range s.Nodes() {
			c.nodes = append(c.nodes, *n)
		}
	})
	return c
}

// serveAPI serves s's API on loopback and returns its URL.
func serveAPI(t *testing.T, s *server.Server) string {
	t.Helper()
	acfg := httpapi.DefaultConfig()
	acfg.Backend, acfg.Logger, acfg.DisableACL = server.Track(s), hclog.NewNullLogger(), true
	acfg.LeaderAPI = s.LeaderHTTPAddr
	h, err := httpapi.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	// Streams end with their connections, whatever still reads them.
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close() })
	return hs.URL
}

// restart shuts server i down and starts it again on its data dir and raft
// address, behind a new API; it returns the new API's URL.
func (c *cluster) restart(t *testing.T, i int) string {
	t.Helper()
	if err := c.servers[i].Shutdown(); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(c.cfgs[i])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	c.servers[i] = s
	c.urls[i] = serveAPI(t, s)
	for _, o := range c.servers {
		for j, p := range c.servers {
			o.SetHTTPAddr(p.ID(), c.urls[j])
		}
	}
	return c.urls[i]
}

func (c *cluster) leader() int {
	for i, s := range c.servers {
		if s.IsLeader() {
			return i
		}
	}
	return -1
}

// leaderNow waits for a leader (an election may be under way) and returns
// its index.
func (c *cluster) leaderNow(t *testing.T) int {
	t.Helper()
	var l int
	eventually(t, 60*time.Second, "a leader", func() bool { l = c.leader(); return l >= 0 })
	return l
}

// job reads a job on the leader (a zero job while there is none).
func (c *cluster) job(id string) state.Job {
	var j state.Job
	l := c.leader()
	if l < 0 {
		return j
	}
	c.servers[l].Read(func(s *state.Store) {
		if p := s.Job(id); p != nil {
			j = *p
		}
	})
	return j
}

func (c *cluster) nodeUp(id string) bool {
	up := false
	l := c.leader()
	if l < 0 {
		return false
	}
	c.servers[l].Read(func(s *state.Store) {
		n := s.Node(id)
		up = n != nil && n.Status == state.NodeUp
	})
	return up
}

// startClient runs the client role against servers.
func (c *cluster) startClient(t *testing.T, servers []string) *Client {
	t.Helper()
	f := &fixture{catalog: c.catalog, nodes: c.nodes, http: &httptest.Server{}}
	return f.startClient(t, func(cfg *Config) {
		cfg.Servers, cfg.Token = servers, ""
		cfg.RetryInterval = 50 * time.Millisecond
	})
}

// gate passes requests to a server's API while open; closed, it cuts the
// streams it passes and answers 503, as a server that went away would.
type gate struct {
	hs *httptest.Server

	mu    sync.Mutex
	rp    *httputil.ReverseProxy
	open  bool
	conns map[*http.Request]context.CancelFunc
}

func newGate(t *testing.T, target string, open bool) *gate {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{open: open, conns: map[*http.Request]context.CancelFunc{}}
	g.retarget(u)
	g.hs = httptest.NewServer(g)
	t.Cleanup(func() { g.hs.CloseClientConnections(); g.hs.Close() })
	return g
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	g.mu.Lock()
	if !g.open {
		g.mu.Unlock()
		http.Error(w, `{"error":"server gone"}`, http.StatusServiceUnavailable)
		return
	}
	g.conns[r] = cancel
	rp := g.rp
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.conns, r)
		g.mu.Unlock()
	}()
	rp.ServeHTTP(w, r.WithContext(ctx))
}

// retarget sends what passes from now on to u.
func (g *gate) retarget(u *url.URL) {
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	g.mu.Lock()
	g.rp = rp
	g.mu.Unlock()
}

// passing is how many requests the gate is passing now.
func (g *gate) passing() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = open
	if !open {
		for _, cancel := range g.conns {
			cancel()
		}
	}
}

// runningLong submits a task that runs until cancelled and waits until it
// runs on a plugin of cl.
func runningLong(t *testing.T, c *cluster, cl *Client, id string) attemptKey {
	t.Helper()
	res, err := c.mgmt.SubmitJobs(context.Background(), []api.JobSubmit{{ID: id, Shard: "earth",
		Capabilities: []string{"sim"}, Value: 1, Kind: "sim", Payload: []byte(`{"duration_ms":600000}`)}})
	if err != nil || res[0].Status != api.StatusAccepted {
		t.Fatalf("submit %s: %+v %v", id, res, err)
	}
	k := attemptKey{id, 1}
	eventually(t, 120*time.Second, id+" running on the client", func() bool {
		return c.job(id).State == state.JobRunning && len(cl.running()[id]) == 1
	})
	return k
}

// TestClientOnFollower: a client whose only server is a follower runs the
// work the leader assigns, and a cancellation made on the leader stops its
// task once.
func TestClientOnFollower(t *testing.T) {
	c := newCluster(t)
	f := (c.leaderNow(t) + 1) % 3
	cl := c.startClient(t, []string{c.urls[f]})
	eventually(t, 120*time.Second, "nodes up", func() bool { return c.nodeUp("earth.n1") && c.nodeUp("earth.n2") })
	k := runningLong(t, c, cl, "long")
	if _, err := c.mgmt.CancelJob(context.Background(), "long", "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 120*time.Second, "the task cancelled on its plugin", func() bool { return len(cl.running()) == 0 })
	// More work flows through the same stream after the cancellation.
	submit(t, c.mgmt, 20, "after", `{"duration_ms":0}`)
	eventually(t, 120*time.Second, "the later jobs completed", func() bool {
		n := int64(0)
		c.servers[c.leaderNow(t)].Read(func(s *state.Store) { n = s.Global().N[state.JobCompleted] })
		return n == 20
	})
	if n := cl.cancelsOf(k); n != 1 {
		t.Fatalf("the cancellation arrived %d times", n)
	}
	if st := c.job("long").State; st != state.JobCancelled {
		t.Fatalf("long is %s", st)
	}
}

// TestClientResumesAfterFailover: a job is cancelled while its client
// reaches no server (its follower went away, the other server is not
// reachable yet); once the other server is, the client resumes there and
// the cancellation stops its task, once.
func TestClientResumesAfterFailover(t *testing.T) {
	c := newCluster(t)
	l := c.leaderNow(t)
	a, b := newGate(t, c.urls[(l+1)%3], true), newGate(t, c.urls[(l+2)%3], false)
	cl := c.startClient(t, []string{a.hs.URL, b.hs.URL})
	eventually(t, 120*time.Second, "nodes up", func() bool { return c.nodeUp("earth.n1") && c.nodeUp("earth.n2") })
	k := runningLong(t, c, cl, "away")
	a.set(false)
	// Once the cut requests have returned, nothing more reaches the client.
	eventually(t, 60*time.Second, "the cut stream to end", func() bool { return a.passing() == 0 })
	w, err := c.mgmt.CancelJob(context.Background(), "away", "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.running()["away"]) != 1 || cl.cancelsOf(k) != 0 {
		t.Fatalf("the client learnt of the cancellation with no server: running %v", cl.running())
	}
	// The server the client resumes on has applied the cancellation, so
	// only the state it holds, not a change it sees happen, can tell the
	// client.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.servers[(l+2)%3].WaitIndex(ctx, w.Index); err != nil {
		t.Fatal(err)
	}
	b.set(true)
	eventually(t, 120*time.Second, "the task cancelled after the client resumed", func() bool { return len(cl.running()) == 0 })
	submit(t, c.mgmt, 20, "after", `{"duration_ms":0}`)
	eventually(t, 120*time.Second, "the later jobs completed", func() bool {
		n := int64(0)
		c.servers[c.leaderNow(t)].Read(func(s *state.Store) { n = s.Global().N[state.JobCompleted] })
		return n == 20
	})
	if n := cl.cancelsOf(k); n != 1 {
		t.Fatalf("the cancellation arrived %d times", n)
	}
}

// TestClientResumesAfterServerRestart: the only server of a client, a
// follower, goes away and restarts on its data dir (raft log and snapshots
// in BoltDB) while the client's job is cancelled; once it is back the
// client resumes on it and the cancellation stops its task, once.
func TestClientResumesAfterServerRestart(t *testing.T) {
	c := newCluster(t)
	f := (c.leaderNow(t) + 1) % 3
	g := newGate(t, c.urls[f], true)
	cl := c.startClient(t, []string{g.hs.URL})
	eventually(t, 120*time.Second, "nodes up", func() bool { return c.nodeUp("earth.n1") && c.nodeUp("earth.n2") })
	k := runningLong(t, c, cl, "restart")
	g.set(false)
	eventually(t, 60*time.Second, "the cut stream to end", func() bool { return g.passing() == 0 })
	if err := c.servers[f].Shutdown(); err != nil {
		t.Fatal(err)
	}
	w, err := c.mgmt.CancelJob(context.Background(), "restart", "test")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.restart(t, f))
	if err != nil {
		t.Fatal(err)
	}
	// The restarted server has applied the cancellation before the client
	// reaches it: only the attempts the client names can tell it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.servers[f].WaitIndex(ctx, w.Index); err != nil {
		t.Fatal(err)
	}
	if len(cl.running()["restart"]) != 1 || cl.cancelsOf(k) != 0 {
		t.Fatalf("the client learnt of the cancellation with no server: running %v", cl.running())
	}
	g.retarget(u)
	g.set(true)
	eventually(t, 120*time.Second, "the task cancelled after the client resumed", func() bool { return len(cl.running()) == 0 })
	submit(t, c.mgmt, 20, "after", `{"duration_ms":0}`)
	eventually(t, 120*time.Second, "the later jobs completed", func() bool {
		n := int64(0)
		c.servers[c.leaderNow(t)].Read(func(s *state.Store) { n = s.Global().N[state.JobCompleted] })
		return n == 20
	})
	if n := cl.cancelsOf(k); n != 1 {
		t.Fatalf("the cancellation arrived %d times", n)
	}
}
