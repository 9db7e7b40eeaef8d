// Package client is planetary's client role: it registers the nodes this
// host serves, heartbeats them with their plugins' health, follows the
// servers' control stream (assignments, cancellations, node changes), runs
// each assignment on its node's plugin over the plugin's long-lived execute
// stream, and sends starts and results back in batches. Unacknowledged results are kept and resent (the FSM ignores
// duplicates by job and attempt), and the client fails over between servers.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/planetary/planetary/sdk/host"
)

// Executor is what the client needs from a running plugin. *host.Plugin
// satisfies it.
type Executor interface {
	Health(ctx context.Context) error
	Exec(ctx context.Context) (*host.ExecStream, error)
}

// Catalog gives the client the plugin serving a node. It is asked again
// after a plugin's execute stream ends (the catalog may have restarted it).
type Catalog interface {
	Executor(ctx context.Context, node state.Node) (Executor, error)
}

// CatalogFunc adapts a function to Catalog.
type CatalogFunc func(ctx context.Context, node state.Node) (Executor, error)

// Executor implements Catalog.
func (f CatalogFunc) Executor(ctx context.Context, node state.Node) (Executor, error) {
	return f(ctx, node)
}

// Sentinel errors.
var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("client: invalid config")
	// ErrUnknownNode is reported for an assignment to a node this client
	// does not serve.
	ErrUnknownNode = errors.New("client: node not served here")
	// ErrNotHosted is returned when the servers do not record this client
	// as the host of a node it publishes state for.
	ErrNotHosted = errors.New("client: node not hosted by this client")
)

// Config configures the client role.
type Config struct {
	// Name identifies this client to the servers.
	Name string
	// Servers are API addresses; the client fails over between them.
	Servers []string
	// Token is the ACL secret (management, or a client token later).
	Token string
	// Region, when set, names the region the servers' API routes this
	// client's requests to (a region host's front, api.RegionHeader).
	Region string
	// TLS is the mutual TLS config for the servers' HTTPS API (nil: plain
	// HTTP, or the PLANETARY_* TLS environment variables).
	TLS    *tls.Config
	Logger hclog.Logger
	// Catalog resolves each node's plugin.
	Catalog Catalog
	// Nodes are the mission nodes this host serves.
	Nodes []state.Node
	// HeartbeatInterval is the time between heartbeats.
	HeartbeatInterval time.Duration
	// HealthTimeout bounds each plugin health probe (default: the
	// heartbeat interval, at least one second).
	HealthTimeout time.Duration
	// FlushInterval is how long a start waits before it is sent (dropped
	// when the attempt's result comes sooner); results are sent at once.
	FlushInterval time.Duration
	// MaxBatch is the most results sent in one request.
	MaxBatch int
	// RetryInterval is the pause after a failed call before the next server
	// is tried.
	RetryInterval time.Duration
	// SeenTTL is how long a finished (job, attempt) is remembered to drop a
	// resent assignment.
	SeenTTL time.Duration

	// Launcher, when set with Kinds, lets the client claim nodes registered
	// after it started: when the control stream lists a node that no other
	// client hosts, whose plugin kind is in Kinds and whose id matches
	// Patterns (all when empty), it launches a plugin, claims the node and
	// serves it. A served node that is retired, deregistered or claimed
	// elsewhere is dropped and its plugin stopped.
	Launcher Launcher
	// Kinds are the plugin kinds this host can run.
	Kinds []string
	// Patterns are glob patterns of the node ids this host may serve.
	Patterns []string
}

// Launcher starts and stops the plugin of a node claimed after start.
type Launcher interface {
	// Launch starts a plugin for node; the catalog serves it from then on.
	Launch(ctx context.Context, node state.Node) error
	// Stop stops the plugin of a node no longer served here.
	Stop(node string)
}

// DefaultConfig returns the defaults; set Name, Servers, Catalog and Nodes.
func DefaultConfig() Config {
	return Config{
		HeartbeatInterval: time.Second,
		FlushInterval:     15 * time.Millisecond,
		MaxBatch:          512,
		RetryInterval:     250 * time.Millisecond,
		SeenTTL:           time.Minute,
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Name == "":
		return bad("name is required")
	case len(c.Servers) == 0:
		return bad("no servers")
	case c.Catalog == nil:
		return bad("no catalog")
	case c.HeartbeatInterval <= 0 || c.FlushInterval <= 0 || c.MaxBatch <= 0 || c.RetryInterval <= 0 || c.SeenTTL <= 0:
		return bad("intervals and batch size must be positive")
	}
	ids := map[string]bool{}
	for _, n := range c.Nodes {
		if n.ID == "" || ids[n.ID] {
			return bad("node ids must be set and unique (%q)", n.ID)
		}
		ids[n.ID] = true
	}
	return nil
}

// Client is the running client role.
type Client struct {
	cfg     Config
	log     hclog.Logger
	apis    []*api.Client
	results *outbox
	feed    *nodeFeed

	nmu   sync.RWMutex
	nodes map[string]*nodeRunner
	// runCtx and wg run node goroutines added while running.
	runCtx context.Context
	wg     *sync.WaitGroup

	mu      sync.Mutex
	current int // index into apis of the server in use
	// seen de-duplicates assignments: (job, attempt) -> running or finished.
	seen    map[attemptKey]*task
	oldSeen map[attemptKey]*task
	rotated time.Time
	// acked is the leader's applied index when it last acknowledged a
	// result batch: a control stream opened later resumes from at least
	// it, so it never re-sends an attempt whose result was acknowledged.
	acked uint64
}

type attemptKey struct {
	job     string
	attempt uint32
}

// task is one attempt dispatched to a plugin.
type task struct {
	key  attemptKey
	node string
	done bool
	// cancelled: a control stream cancelled it; cancels counts how many
	// times one did.
	cancelled bool
	cancels   int
}

// New builds a client. Missing durations take their defaults.
func New(cfg Config) (*Client, error) {
	def := DefaultConfig()
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = def.HeartbeatInterval
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = def.FlushInterval
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = def.MaxBatch
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = def.RetryInterval
	}
	if cfg.SeenTTL == 0 {
		cfg.SeenTTL = def.SeenTTL
	}
	if cfg.HealthTimeout == 0 {
		cfg.HealthTimeout = max(cfg.HeartbeatInterval, time.Second)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	c := &Client{
		cfg:     cfg,
		log:     cfg.Logger.Named("client"),
		nodes:   map[string]*nodeRunner{},
		seen:    map[attemptKey]*task{},
		oldSeen: map[attemptKey]*task{},
		rotated: time.Now(),
		feed:    newNodeFeed(),
	}
	for _, addr := range cfg.Servers {
		ac, err := api.NewClient(api.ClientConfig{Address: addr, Token: cfg.Token, TLS: cfg.TLS, Region: cfg.Region,
			// The client role has its own retries and fails over between
			// servers; a call refused for want of a leader returns at once.
			LeaderWait: -1})
		if err != nil {
			return nil, fmt.Errorf("client: server %q: %w", addr, err)
		}
		c.apis = append(c.apis, ac)
	}
	c.results = newOutbox(cfg.MaxBatch, cfg.FlushInterval)
	for _, n := range cfg.Nodes {
		c.nodes[n.ID] = newNodeRunner(c, n)
	}
	return c, nil
}

// server returns the API client in use.
func (c *Client) server() *api.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apis[c.current]
}

// failover moves to the next server after a failed call on from, and
// prefers the leader an error names when it is one of ours.
func (c *Client) failover(from *api.Client, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apis[c.current] != from {
		return // someone already moved on
	}
	var ae *api.Error
	if errors.As(err, &ae) && ae.Leader != "" {
		for i, a := range c.apis {
			if sameHost(a.Address(), ae.Leader) {
				c.current = i
				return
			}
		}
	}
	c.current = (c.current + 1) % len(c.apis)
	c.log.Warn("server call failed, trying next server", "from", from.Address(),
		"to", c.apis[c.current].Address(), "error", err)
}

func sameHost(addr, leader string) bool {
	return addr == leader || addr == "http://"+leader || addr == "https://"+leader
}

// Run registers, then heartbeats, follows the control stream and sends
// results until ctx ends. It returns nil when ctx ends, and ErrRevoked
// when the servers revoked this client's identity.
func (c *Client) Run(ctx context.Context) error {
	c.startPlugins(ctx)
	if err := c.register(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	run := func(fn func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx) }()
	}
	c.nmu.Lock()
	c.runCtx, c.wg = ctx, &wg
	for _, nr := range c.nodes {
		nr.start(ctx, &wg)
	}
	c.nmu.Unlock()
	run(c.heartbeatLoop)
	if ps, ok := c.cfg.Catalog.(PluginStater); ok {
		run(func(ctx context.Context) { c.pluginStateLoop(ctx, ps) })
	}
	run(func(ctx context.Context) { c.controlLoop(ctx, cancel) })
	run(c.nodeLoop)
	run(c.resultLoop)
	<-ctx.Done()
	wg.Wait()
	// A last attempt to hand over what finished; the servers take the rest
	// from the next run's resend or requeue the attempts.
	flushCtx, fcancel := context.WithTimeout(context.Background(), c.cfg.RetryInterval*4)
	defer fcancel()
	c.flush(flushCtx)
	if err := context.Cause(ctx); errors.Is(err, ErrRevoked) {
		return err
	}
	return nil
}

func (c *Client) nodeIDs() []string {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	ids := make([]string, 0, len(c.nodes))
	for id := range c.nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// retry calls fn against the current server until it succeeds or ctx ends.
func (c *Client) retry(ctx context.Context, what string, fn func(*api.Client) error) error {
	for {
		s := c.server()
		err := fn(s)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
			return fmt.Errorf("client: %s: %w", what, err)
		}
		c.failover(s, err)
		if !sleep(ctx, c.cfg.RetryInterval) {
			return ctx.Err()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Client) register(ctx context.Context) error {
	req := api.ClientRegister{Client: c.cfg.Name, Nodes: []api.Node{}}
	kinds := map[string]bool{}
	for _, n := range c.cfg.Nodes {
		req.Nodes = append(req.Nodes, view.Node(&n))
		if n.PluginKind != "" && !kinds[n.PluginKind] {
			kinds[n.PluginKind] = true
			req.Kinds = append(req.Kinds, n.PluginKind)
		}
	}
	sort.Strings(req.Kinds)
	var claimed []string
	err := c.retry(ctx, "register", func(s *api.Client) error {
		out, err := s.ClientRegister(ctx, req)
		if err == nil {
			c.log.Info("registered", "server", s.Address(), "claimed", out.Claimed)
			claimed = out.Claimed
		}
		return err
	})
	if err != nil {
		return err
	}
	// A node this client claimed in an earlier life (one registered at run
	// time and served through the node loop) is still recorded up, but
	// nothing serves it until the node loop launches its plugin again:
	// report it down, so no work is assigned to it meanwhile.
	var unserved []api.NodeBeat
	for _, id := range claimed {
		if _, ok := c.node(id); !ok {
			unserved = append(unserved, api.NodeBeat{ID: id, Healthy: false})
		}
	}
	if len(unserved) > 0 {
		err = c.retry(ctx, "report unserved nodes down", func(s *api.Client) error {
			return s.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: c.cfg.Name, Nodes: unserved})
		})
	}
	return err
}

// heartbeatLoop probes every node's plugin and reports the result. A plugin
// that answers unhealthy makes its node down at once; one that does not
// answer in time (e.g. stopped) sends no beat, so its node expires on the
// leader when its TTL runs out, as a lost host's would.
func (c *Client) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		beats := c.probe(ctx)
		s := c.server()
		if err := s.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: c.cfg.Name, Nodes: beats}); err != nil && ctx.Err() == nil {
			c.failover(s, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reportDown tells the servers at once that a node's plugin died, with an
// unhealthy beat; the heartbeat loop brings it back up once a probe answers.
func (c *Client) reportDown(node string, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*c.cfg.HeartbeatInterval)
	defer cancel()
	err := c.retry(ctx, "report node down", func(s *api.Client) error {
		return s.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: c.cfg.Name,
			Nodes: []api.NodeBeat{{ID: node, Healthy: false}}})
	})
	if err != nil {
		c.log.Warn("could not report a dead plugin's node down; its TTL will", "node", node, "cause", cause, "error", err)
	}
}

// startPlugins readies every node's plugin before the nodes are claimed,
// so a plugin still starting is not reported unhealthy. A plugin that does
// not start is retried by its node's heartbeats and tasks.
func (c *Client) startPlugins(ctx context.Context) {
	var wg sync.WaitGroup
	for _, id := range c.nodeIDs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nr, ok := c.node(id)
			if !ok {
				return
			}
			if _, err := nr.executor(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("plugin did not start", "node", id, "error", err)
			}
		}()
	}
	wg.Wait()
}

// probe health-checks every node's plugin concurrently.
func (c *Client) probe(ctx context.Context) []api.NodeBeat {
	ids := c.nodeIDs()
	res := make([]probeResult, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if nr, ok := c.node(id); ok {
				res[i] = nr.probe(ctx)
			} else {
				res[i] = probeResult{silent: true}
			}
		}()
	}
	wg.Wait()
	beats := make([]api.NodeBeat, 0, len(res))
	for _, r := range res {
		if !r.silent {
			beats = append(beats, r.NodeBeat)
		}
	}
	return beats
}

// dispatch hands an assignment to its node, once per (job, attempt).
func (c *Client) dispatch(ctx context.Context, a api.Assignment) {
	k := attemptKey{a.JobID, a.Attempt}
	c.mu.Lock()
	c.rotateSeen()
	if _, dup := c.seen[k]; dup {
		c.mu.Unlock()
		return
	}
	if t, dup := c.oldSeen[k]; dup {
		c.seen[k] = t
		c.mu.Unlock()
		return
	}
	t := &task{key: k, node: a.Node}
	c.seen[k] = t
	c.mu.Unlock()

	nr, ok := c.node(a.Node)
	if !ok {
		c.log.Warn("assignment for a node not served here", "job", a.JobID, "node", a.Node)
		c.finish(k, api.Result{JobID: a.JobID, Attempt: a.Attempt, Retryable: true,
			Error: fmt.Sprintf("%v: %s", ErrUnknownNode, a.Node)})
		return
	}
	nr.submit(ctx, a)
}

// rotateSeen forgets finished attempts older than SeenTTL. Caller holds mu.
func (c *Client) rotateSeen() {
	if time.Since(c.rotated) < c.cfg.SeenTTL {
		return
	}
	next := make(map[attemptKey]*task, len(c.seen))
	for k, t := range c.oldSeen {
		if !t.done {
			next[k] = t
		}
	}
	for k, t := range c.seen {
		if !t.done {
			next[k] = t
		}
	}
	c.oldSeen, c.seen, c.rotated = c.seen, next, time.Now()
	for k := range next {
		delete(c.oldSeen, k)
	}
}

// started queues a start notice.
func (c *Client) started(k attemptKey) {
	c.results.addStarted(api.JobAttempt{JobID: k.job, Attempt: k.attempt})
}

// finish queues a result and marks the attempt done.
func (c *Client) finish(k attemptKey, r api.Result) {
	c.mu.Lock()
	if t, ok := c.seen[k]; ok {
		t.done = true
	} else if t, ok := c.oldSeen[k]; ok {
		t.done = true
	}
	c.mu.Unlock()
	c.results.addResult(r)
}

// running returns the attempts still running on plugins.
func (c *Client) running() map[string][]attemptKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]attemptKey{}
	for _, m := range []map[attemptKey]*task{c.oldSeen, c.seen} {
		for k, t := range m {
			if !t.done {
				out[k.job] = append(out[k.job], k)
			}
		}
	}
	return out
}

// resultLoop sends results as soon as they arrive (what gathers while a
// request is in flight goes in the next one) and starts once they are
// FlushInterval old; see outbox.
func (c *Client) resultLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.results.ready:
		case <-c.results.full:
		}
		if !c.flush(ctx) {
			sleep(ctx, c.cfg.RetryInterval)
		}
	}
}

// flush sends everything due; false after a failed send (the batch is
// kept and resent).
func (c *Client) flush(ctx context.Context) bool {
	for {
		b := c.results.take(false)
		if b.empty() {
			return true
		}
		s := c.server()
		idx, err := s.ClientResults(ctx, api.ClientResults{Client: c.cfg.Name, Started: b.started, Results: b.results})
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			// The server will never take this batch; resending it would
			// block every later result.
			c.log.Error("server refused a result batch; dropping it", "results", len(b.results),
				"started", len(b.started), "error", err)
			continue
		}
		if err != nil {
			c.results.putBack(b)
			if ctx.Err() == nil {
				c.failover(s, err)
			}
			return false
		}
		c.forget(b.results, idx)
	}
}

// forget drops the finished attempts of an acknowledged result batch from
// the de-duplication maps, so they hold what runs and what waits for an
// answer rather than every attempt of the last SeenTTL (at tens of
// thousands of jobs a second, millions). idx is the leader's applied index
// after it applied the batch; the next control stream resumes from it, and
// a server answers a stream only once it has applied the index asked for,
// so none re-sends these attempts. An attempt a stream cancelled stays
// until SeenTTL rotates it out (its cancellation count is reported).
func (c *Client) forget(results []api.Result, idx uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acked = max(c.acked, idx)
	if idx == 0 {
		return // a server that does not report its index: SeenTTL rotates them
	}
	for _, r := range results {
		k := attemptKey{r.JobID, r.Attempt}
		for _, m := range []map[attemptKey]*task{c.seen, c.oldSeen} {
			if t, ok := m[k]; ok && t.done && t.cancels == 0 {
				delete(m, k)
			}
		}
	}
}

// ackedIndex is the applied index of the last acknowledged result batch.
func (c *Client) ackedIndex() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}
