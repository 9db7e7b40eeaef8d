// Package agent is the `planetary agent` runtime: it turns an agent config
// (and optionally a mission) into a running server role, HTTP API and console,
// and client role with its plugin catalog.
//
// The dev agent runs both roles in one process; the client still talks to the
// server through the HTTP client protocol on loopback, exactly as a remote
// client would.
package agent

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	httpapi "github.com/planetary/planetary/core/api"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/catalog"
	"github.com/planetary/planetary/core/client"
	"github.com/planetary/planetary/core/console"
	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/region"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/state"
	"github.com/planetary/planetary/sdk"
)

// Errors.
var (
	// ErrNoRole is returned when neither the server nor the client role is on.
	ErrNoRole = errors.New("agent: neither the server nor the client role is enabled")
	// ErrNoToken is returned when ACLs are on and a client with no identity
	// yet has no join credential.
	ErrNoToken = errors.New("agent: ACLs are enabled and this client has no identity yet: " +
		"create a join credential once with `planetary acl token create -type client -name hosts` " +
		"and pass it with -token (or PLANETARY_TOKEN)")
)

// TokenFile is the name of the file in the data dir that holds the
// management secret a dev agent bootstraps for itself.
const TokenFile = "management.token"

// Config configures an Agent.
type Config struct {
	Logger hclog.Logger
	// Agent is the per-host config (required).
	Agent *mission.AgentConfig
	// Mission, when set, is applied through raft once this server leads
	// (idempotent by digest), and its nodes are the ones this client may serve.
	Mission *mission.Mission
	// MissionSource and MissionFile are the HCL text sent to the API.
	MissionSource []byte
	MissionFile   string
	// Dev bootstraps ACLs itself (as BootstrapACL), allows anonymous reads
	// and uses a temp data dir when none is set.
	Dev bool
	// BootstrapACL makes a server agent bootstrap ACLs for itself when no
	// one has, keeping the management secret in <data-dir>/management.token
	// (a single-host agent started from a mission-only file; -dev; run).
	BootstrapACL bool
	// SelfPath is the planetary binary that serves built-in plugins.
	SelfPath string
	// Token is an operator's ACL secret, used only against other agents:
	// a client role's join credential (a client token, or management) and
	// a server's join call to its peers. The agent's own server and
	// client never need it.
	Token string
	// TokenSource says where Token came from ("-token flag",
	// "PLANETARY_TOKEN"), for error messages.
	TokenSource string
	// EnableDebug serves Go's profiler under /debug/pprof/ on the API
	// address (no ACL: keep the API on a trusted address when it is on).
	EnableDebug bool
	// Server tunes the server role (zero values keep server.DefaultConfig).
	Server server.Config
	// Regions runs every region of the mission as its own raft group in
	// this process (core/region: one server per region, the host's HTTP
	// front routing each request to its region, a client role per region).
	Regions bool
}

// Agent is a running planetary agent.
type Agent struct {
	cfg     Config
	log     hclog.Logger
	dataDir string
	tmpDir  bool

	srv *server.Server
	// host runs every region (Config.Regions); srv is then its
	// ACL region's server (region.Host.ACLRegion), where tokens are made.
	host    *region.Host
	httpSrv *http.Server
	ln      net.Listener
	cat     *catalog.Catalog
	cli     *client.Client
	token   string
	// secret is the agent's own secret (httpapi.Config.AgentSecret), valid
	// only on this process's API; mgmt is the management secret the agent
	// bootstrapped or read from its data dir (BootstrapACL), and fresh
	// says it was bootstrapped by this start.
	secret string
	mgmt   string
	fresh  bool

	// v1 is the HTTP API, in place once the server has opened.
	v1 atomic.Pointer[http.Handler]

	// tls is the mutual TLS config (nil when off); peerHTTP calls other
	// servers' APIs with it.
	tls      *tls.Config
	peerHTTP *http.Client

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	done   bool

	// dyn holds one catalog per node claimed after start.
	dmu     sync.Mutex
	dyn     map[string]*catalog.Catalog
	dclosed bool

	// plugins are the plugin blocks in force (the agent config's, replaced
	// by ReloadPlugins).
	pmu     sync.Mutex
	plugins []mission.PluginSpec
}

// New validates the config; Start runs the agent.
func New(cfg Config) (*Agent, error) {
	if cfg.Agent == nil {
		return nil, errors.New("agent: no agent config")
	}
	if !cfg.Agent.Server.Enabled && !cfg.Agent.Client.Enabled {
		return nil, ErrNoRole
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &Agent{cfg: cfg, log: cfg.Logger.Named("agent"), token: cfg.Token}, nil
}

// Start brings up the roles in order: server, HTTP API, ACL (dev), mission,
// client. On error everything started so far is shut down.
func (a *Agent) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = a.Shutdown()
		}
	}()
	ac := a.cfg.Agent
	life, cancel := context.WithCancel(context.Background())
	a.cancel = cancel

	if err := a.prepareDataDir(); err != nil {
		return err
	}
	if err := a.loadTLS(); err != nil {
		return err
	}
	if a.secret, err = randomSecret(); err != nil {
		return err
	}
	a.peerHTTP = &http.Client{Timeout: 30 * time.Second}
	if a.tls != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = a.tls
		a.peerHTTP.Transport = t
	}
	if ac.Server.Enabled {
		// The API listens first and answers 503 "starting" while the
		// server opens its data dir (a large snapshot takes a while to
		// restore) and replays its log.
		if err := a.startHTTP(); err != nil {
			return err
		}
		if a.cfg.Regions {
			if err := a.startRegions(ctx); err != nil {
				return err
			}
		} else {
			if err := a.startServer(); err != nil {
				return err
			}
			if err := a.startAPI(); err != nil {
				return err
			}
			if err := a.formCluster(ctx); err != nil {
				return err
			}
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.syncMembers(life)
		}()
		if err := a.srv.WaitLeader(ctx); err != nil {
			return fmt.Errorf("agent: waiting for a raft leader: %w", err)
		}
		if err := a.srv.WaitReplayed(ctx); err != nil {
			return fmt.Errorf("agent: replaying the raft log: %w", err)
		}
		if ac.ACL.Enabled {
			if err := a.ensureToken(ctx); err != nil {
				return err
			}
		}
		if a.cfg.Mission != nil {
			if err := a.applyMission(ctx); err != nil {
				return err
			}
		}
	}
	if ac.Client.Enabled {
		if err := a.startClient(ctx, life); err != nil {
			return err
		}
	}
	return nil
}

func (a *Agent) prepareDataDir() error {
	dir := a.cfg.Agent.DataDir
	if a.cfg.Dev && dir == "" {
		d, err := os.MkdirTemp("", "planetary-dev-")
		if err != nil {
			return fmt.Errorf("agent: temp data dir: %w", err)
		}
		dir, a.tmpDir = d, true
	}
	if dir == "" {
		return errors.New("agent: no data_dir set (agent { data_dir = ... } or -data-dir)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("agent: data dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("agent: data dir: %w", err)
	}
	a.dataDir = abs
	return nil
}

func (a *Agent) startServer() error {
	srv, err := server.New(a.serverConfig())
	if err != nil {
		return fmt.Errorf("agent: %w", err) // server errors name themselves
	}
	a.srv = srv
	return nil
}

// startRegions starts the region host (Config.Regions): every region of the
// mission its own raft group under <data>/server/regions/<name>, each with
// the agent's server settings, and the host's front as the HTTP API.
func (a *Agent) startRegions(ctx context.Context) error {
	if a.cfg.Mission == nil {
		return errors.New("agent: running every region needs a mission")
	}
	if len(a.cfg.Agent.Server.Join) > 0 || a.cfg.Agent.Server.BootstrapExpect > 1 {
		return errors.New("agent: running every region in one process takes no join or bootstrap_expect: each region is a one-server raft group")
	}
	sc := a.serverConfig()
	// The host puts relative roots, checkpoint and report paths under each
	// region's own dir, so two regions never write one file.
	sc.AllowedRoots = append([]string(nil), a.cfg.Agent.AllowedRoots...)
	host, err := region.New(ctx, region.Config{DataDir: sc.DataDir, Mission: a.cfg.Mission, Server: sc, Logger: a.cfg.Logger})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.host, a.srv = host, host.Region(host.ACLRegion())
	front, err := region.NewFront(host, a.apiConfig())
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	var handler http.Handler = front
	a.v1.Store(&handler)
	return nil
}

// serverConfig is the server role's config: the caller's (Config.Server)
// with the agent config and the defaults filled in.
func (a *Agent) serverConfig() server.Config {
	ac := a.cfg.Agent
	sc := a.cfg.Server
	def := server.DefaultConfig()
	if sc.HeartbeatTTL == 0 {
		sc.HeartbeatTTL = def.HeartbeatTTL
	}
	if sc.MaxAttempts == 0 {
		sc.MaxAttempts = def.MaxAttempts
	}
	if sc.ClockTick == 0 {
		sc.ClockTick = def.ClockTick
	}
	if sc.SchedulerTick == 0 {
		sc.SchedulerTick = def.SchedulerTick
	}
	// Raft's snapshot settings and the event retention come from the agent
	// config unless the caller set them.
	if sc.SnapshotThreshold == 0 && ac.Server.SnapshotThreshold > 0 {
		sc.SnapshotThreshold = uint64(ac.Server.SnapshotThreshold)
	}
	if sc.TrailingLogs == 0 && ac.Server.TrailingLogs > 0 {
		sc.TrailingLogs = uint64(ac.Server.TrailingLogs)
	}
	if sc.SnapshotInterval == 0 && ac.Server.SnapshotIntervalMs > 0 {
		sc.SnapshotInterval = time.Duration(ac.Server.SnapshotIntervalMs) * time.Millisecond
	}
	if sc.SnapshotThreshold == 0 {
		sc.SnapshotThreshold = def.SnapshotThreshold
	}
	if sc.TrailingLogs == 0 {
		sc.TrailingLogs = def.TrailingLogs
	}
	if sc.SnapshotInterval == 0 {
		sc.SnapshotInterval = def.SnapshotInterval
	}
	if er := ac.EventRetention; sc.EventRetention == (eventlog.Retention{}) {
		sc.EventRetention = eventlog.Retention{
			MaxAge: time.Duration(max(er.MaxAgeMs, 0)) * time.Millisecond, MaxBytes: er.MaxBytes, ArchiveDir: er.ArchiveDir,
		}
	}
	if sc.EventSegmentBytes == 0 {
		sc.EventSegmentBytes = ac.EventRetention.SegmentBytes
	}
	if sc.MaxEntryJobs == 0 {
		sc.MaxEntryJobs = def.MaxEntryJobs
	}
	if sc.MaxEntryBytes == 0 {
		sc.MaxEntryBytes = def.MaxEntryBytes
	}
	if sc.ApplyTimeout == 0 {
		sc.ApplyTimeout = def.ApplyTimeout
	}
	sc.NodeID = ac.Name
	sc.DataDir = filepath.Join(a.dataDir, "server")
	sc.BindAddr = ac.Server.Bind
	if sc.Region == "" {
		sc.Region = ac.Server.Region
	}
	if sc.BindAddr == "" {
		sc.BindAddr = def.BindAddr
	}
	// Without join addresses a server bootstraps alone; with them it joins
	// or bootstraps together with its peers (formCluster).
	sc.Bootstrap = ac.Server.BootstrapExpect <= 1 && len(ac.Server.Join) == 0
	sc.RaftTLS = a.tls
	sc.Logger = a.cfg.Logger
	// Relative allowed roots, checkpoint paths and archive directories live
	// under the data dir, not the working directory the agent started in.
	sc.PathBase = a.dataDir
	for _, r := range ac.AllowedRoots {
		if !filepath.IsAbs(r) {
			r = filepath.Join(a.dataDir, r)
		}
		sc.AllowedRoots = append(sc.AllowedRoots, filepath.Clean(r))
	}
	return sc
}

// startAPI puts the HTTP API of the opened server in place of the
// start-up answer.
func (a *Agent) startAPI() error {
	cfg := a.apiConfig()
	cfg.Backend, cfg.LeaderAPI = server.Track(a.srv), a.srv.LeaderHTTPAddr
	h, err := httpapi.New(cfg)
	if err != nil {
		return fmt.Errorf("agent: %w", err) // api errors name themselves
	}
	handler := h.Handler()
	a.v1.Store(&handler)
	return nil
}

// apiConfig is the HTTP API's config but its backend.
func (a *Agent) apiConfig() httpapi.Config {
	return httpapi.Config{
		Logger:             a.cfg.Logger,
		AllowAnonymousRead: a.cfg.Dev,
		AgentSecret:        a.secret,
		DisableACL:         !a.cfg.Agent.ACL.Enabled,
		PeerTLS:            a.tls,
	}
}

// openingMessage is the 503 answer of the API before the server has opened
// its data dir.
const openingMessage = "starting, opening the raft log and restoring the latest snapshot"

// serveV1 is the /v1/ API once startAPI has run, and a 503 "starting"
// before (health says so in its own shape).
func (a *Agent) serveV1(w http.ResponseWriter, r *http.Request) {
	if h := a.v1.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	var body any = api.ErrorBody{Error: openingMessage}
	if r.URL.Path == "/v1/health" {
		body = api.Health{Status: "starting", Message: openingMessage}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// startHTTP listens on the API address; /v1/ answers 503 until startAPI.
func (a *Agent) startHTTP() error {
	ac := a.cfg.Agent
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", a.serveV1)
	mux.Handle("/ui/", http.StripPrefix("/ui", console.Handler()))
	if a.cfg.EnableDebug {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	addr := ac.HTTPAddr
	if addr == "" {
		addr = "127.0.0.1:4646"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("agent: HTTP listener on %s: %w", addr, err)
	}
	if a.tls != nil {
		ln = tls.NewListener(ln, a.tls)
	}
	a.ln = ln
	a.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP server stopped", "error", err)
		}
	}()
	return nil
}

// ensureToken (BootstrapACL, -dev) finds the agent's management secret: the
// one a previous start wrote to the data dir, or a fresh bootstrap when no
// one has bootstrapped yet. An operator's token (flag or environment) plays
// no part: the agent's own calls use its own secret.
func (a *Agent) ensureToken(ctx context.Context) error {
	if !a.cfg.BootstrapACL && !a.cfg.Dev {
		return nil
	}
	file := filepath.Join(a.dataDir, TokenFile)
	if b, err := os.ReadFile(file); err == nil {
		tok := strings.TrimSpace(string(b))
		known := false
		a.srv.Read(func(s *state.Store) { _, known = s.TokenByHash(httpapi.HashSecret(tok)) })
		if known {
			a.mgmt = tok
			return nil
		}
		a.log.Warn("the management token in the data dir is not known to the cluster; ignoring it", "file", file)
	}
	bootstrapped := false
	a.srv.Read(func(s *state.Store) { bootstrapped = s.ACLBootstrapped() })
	if bootstrapped {
		a.log.Info("ACLs were bootstrapped by an operator; the agent serves itself with its own identity")
		return nil
	}
	c, err := a.apiClient()
	if err != nil {
		return err
	}
	tok, err := c.ACLBootstrap(ctx)
	if err != nil {
		return fmt.Errorf("agent: ACL bootstrap: %w", err)
	}
	a.mgmt, a.fresh = tok.SecretID, true
	if err := os.WriteFile(file, []byte(a.mgmt+"\n"), 0o600); err != nil {
		return fmt.Errorf("agent: write %s: %w", file, err)
	}
	return nil
}

func (a *Agent) applyMission(ctx context.Context) error {
	c, err := a.apiClient()
	if err != nil {
		return err
	}
	if !a.srv.IsLeader() {
		// The agent's own secret is valid on this server only; a follower
		// forwards to the leader, which needs an operator's token.
		if a.token == "" {
			a.log.Warn("not the leader and no -token: the mission in the config is left to the leader's agent or `planetary mission apply`",
				"file", a.cfg.MissionFile)
			return nil
		}
		c.SetToken(a.token)
	}
	res, err := c.ApplyMission(ctx, a.cfg.MissionFile, a.cfg.MissionSource, "agent start")
	if err != nil {
		return fmt.Errorf("agent: apply mission %s: %w", a.cfg.MissionFile, err)
	}
	a.log.Info("mission applied", "file", a.cfg.MissionFile, "changed", res.Changed)
	return nil
}

// apiClient is a client of this agent's own API with its own secret.
func (a *Agent) apiClient() (*api.Client, error) {
	cc := api.DefaultClientConfig()
	cc.Address = a.HTTPAddr()
	cc.Token = a.secret
	cc.TLS = a.tls
	return api.NewClient(cc)
}

// identity is a client's identity as kept in its data dir.
type identity struct {
	Client     string `json:"client"`
	AccessorID string `json:"accessor_id"`
	Secret     string `json:"secret"`
}

// clientIdentity returns the secret the client role authenticates with: its
// identity from the data dir (confirmed with the servers), or a new one
// issued by POST /v1/client/join. In one process with a leading server the
// agent's own secret authorizes the join; otherwise the operator's join
// credential (-token) does. A refusal stops the agent with what to do.
func (a *Agent) clientIdentity(ctx context.Context, servers []string) (string, error) {
	ac := a.cfg.Agent
	if !ac.ACL.Enabled {
		return a.token, nil
	}
	file := filepath.Join(a.dataDir, api.IdentityFile)
	var id identity
	cred, source := "", ""
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &id); err != nil {
			return "", fmt.Errorf("agent: client identity %s: %w", file, err)
		}
		if id.Client == ac.Name && id.Secret != "" {
			cred, source = id.Secret, "the client identity in "+file
		}
	}
	issue := cred == ""
	if issue {
		switch {
		case a.srv != nil && a.srv.IsLeader():
			cred, source = a.secret, "the agent's own identity"
			servers = []string{a.HTTPAddr()}
		case a.token != "":
			cred, source = a.token, a.tokenSource()
		default:
			return "", ErrNoToken
		}
	}
	var out api.ClientJoined
	var last error
	for attempt := 0; ; attempt++ {
		addr := servers[attempt%len(servers)]
		c, err := api.NewClient(api.ClientConfig{Address: addr, Token: cred, TLS: a.tls})
		if err != nil {
			return "", fmt.Errorf("agent: server %q: %w", addr, err)
		}
		out, err = c.ClientJoin(ctx, ac.Name)
		if err == nil {
			break
		}
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
			hint := "create a join credential with `planetary acl token create -type client -name hosts` and pass it with -token"
			if !issue {
				hint = "an operator revoked this client, or the cluster was rebuilt: remove " + file + " and join again with a join credential"
			}
			return "", fmt.Errorf("agent: client %s: join refused by %s (token: %s): %w; %s", ac.Name, addr, source, err, hint)
		}
		last = err
		if attempt%20 == 0 {
			a.log.Info("waiting for a server to join", "servers", servers, "error", last)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("agent: client join: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if !issue {
		return cred, nil
	}
	id = identity{Client: ac.Name, AccessorID: out.AccessorID, Secret: out.Secret}
	b, _ := json.Marshal(id)
	if err := os.WriteFile(file, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("agent: write %s: %w", file, err)
	}
	a.log.Info("client joined; identity kept in the data dir", "client", ac.Name, "accessor", out.AccessorID, "file", file)
	return out.Secret, nil
}

func (a *Agent) tokenSource() string {
	if a.cfg.TokenSource != "" {
		return a.cfg.TokenSource
	}
	return "agent config"
}

func randomSecret() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("agent: secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// servedNodes are the mission nodes this host serves: matching the client's
// node patterns, with a plugin of their kind configured here, and in the
// region its server holds when it holds one.
func (a *Agent) servedNodes() ([]state.Node, map[string]mission.Node) {
	ac := a.cfg.Agent
	if a.cfg.Mission == nil {
		return nil, nil
	}
	kinds := map[string]bool{}
	for _, p := range ac.Plugins {
		kinds[p.Name] = true
	}
	patterns := ac.Client.Nodes
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	// A server that holds one region knows only that region's nodes.
	m := a.cfg.Mission
	if r := ac.Server.Region; r != "" && ac.Server.Enabled {
		if part, err := m.ForRegion(r); err == nil {
			m = part
		}
	}
	byID := map[string]mission.Node{}
	for _, n := range m.Nodes {
		byID[n.ID] = n
	}
	var out []state.Node
	for _, rec := range m.NodeRecords() {
		if !kinds[rec.PluginKind] || !matchAny(patterns, rec.ID) {
			continue
		}
		out = append(out, rec)
	}
	return out, byID
}

func matchAny(patterns []string, id string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}

func (a *Agent) startClient(ctx, life context.Context) error {
	ac := a.cfg.Agent
	servers := ac.Client.Servers
	if ac.Server.Enabled {
		servers = []string{a.HTTPAddr()}
	}
	var (
		secret string
		err    error
	)
	if a.host != nil {
		// The agent's own clients use its process secret, valid in every
		// region at once (an identity would have to reach the client's
		// region from the ACL region first).
		secret = a.secret
	} else if secret, err = a.clientIdentity(ctx, servers); err != nil {
		return err
	}
	nodes, _ := a.servedNodes()
	var specs []catalog.Spec
	for _, n := range nodes {
		spec, err := a.pluginSpec(n)
		if err != nil {
			return err
		}
		specs = append(specs, spec)
	}
	cat, err := a.newCatalog(specs)
	if err != nil {
		return fmt.Errorf("agent: catalog: %w", err)
	}
	a.cat = cat
	if err := cat.Start(life); err != nil {
		// A plugin that cannot start leaves its node down; the others serve.
		a.log.Error("some plugins did not start; their nodes stay down", "error", err)
	}
	clc := client.DefaultConfig()
	clc.Name = ac.Name
	clc.Servers = servers
	clc.Token = secret
	clc.TLS = a.tls
	clc.Logger = a.cfg.Logger
	clc.Nodes = nodes
	if ac.Client.HeartbeatIntervalMs > 0 {
		clc.HeartbeatInterval = time.Duration(ac.Client.HeartbeatIntervalMs) * time.Millisecond
	}
	clc.Catalog = agentCatalog{a}
	clc.Launcher = launcher{a}
	for _, p := range ac.Plugins {
		clc.Kinds = append(clc.Kinds, p.Name)
	}
	clc.Patterns = ac.Client.Nodes
	if a.host == nil {
		return a.runClient(life, clc)
	}
	// One client role per region, each serving that region's nodes
	// through the front to its own region.
	byRegion := map[string][]state.Node{}
	for _, n := range nodes {
		r := a.host.RegionOf(n.Shard)
		byRegion[r] = append(byRegion[r], n)
	}
	for _, r := range a.host.Regions() {
		c := clc
		c.Region, c.Nodes = r, byRegion[r]
		c.Logger = a.cfg.Logger.Named(r)
		if err := a.runClient(life, c); err != nil {
			return err
		}
	}
	return nil
}

// runClient starts one client role.
func (a *Agent) runClient(life context.Context, clc client.Config) error {
	cl, err := client.New(clc)
	if err != nil {
		return fmt.Errorf("agent: client: %w", err)
	}
	if a.cli == nil {
		a.cli = cl
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := cl.Run(life); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("client role stopped", "error", err)
		}
	}()
	return nil
}

// HTTPAddr is the API base URL.
func (a *Agent) HTTPAddr() string {
	if a.ln != nil {
		if a.tls != nil {
			return "https://" + a.ln.Addr().String()
		}
		return "http://" + a.ln.Addr().String()
	}
	return ""
}

// Token is a management secret valid on this agent's API: the one it
// bootstrapped or keeps in its data dir, else its own process secret.
func (a *Agent) Token() string {
	if a.mgmt != "" {
		return a.mgmt
	}
	return a.secret
}

// ManagementToken is the management secret the agent bootstrapped or read
// from its data dir ("" when none), and whether this start bootstrapped it.
func (a *Agent) ManagementToken() (secret string, fresh bool) { return a.mgmt, a.fresh }

// DataDir is the agent's data directory.
func (a *Agent) DataDir() string { return a.dataDir }

// Server is the server role, nil on a client-only agent.
func (a *Agent) Server() *server.Server { return a.srv }

// Host is the region host (Config.Regions), nil when the agent runs one
// raft group.
func (a *Agent) Host() *region.Host { return a.host }

// Catalog is the client's plugin catalog, nil on a server-only agent.
func (a *Agent) Catalog() *catalog.Catalog { return a.cat }

// Shutdown stops the client (and its plugins), the API and the server.
func (a *Agent) Shutdown() error {
	a.mu.Lock()
	if a.done {
		a.mu.Unlock()
		return nil
	}
	a.done = true
	a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
	}
	if a.cat != nil {
		a.cat.Close()
	}
	a.dmu.Lock()
	dyn := a.dyn
	a.dyn, a.dclosed = nil, true
	a.dmu.Unlock()
	for _, c := range dyn {
		c.Close()
	}
	if a.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.httpSrv.Shutdown(ctx)
		cancel()
	}
	var err error
	switch {
	case a.host != nil:
		err = a.host.Shutdown()
	case a.srv != nil:
		err = a.srv.Shutdown()
	}
	a.wg.Wait()
	if a.tmpDir {
		_ = os.RemoveAll(a.dataDir)
	}
	return err
}

// pluginSpec is the catalog entry serving node n: its kind's plugin block,
// with the mission node's config (when the mission names it) over the
// plugin's.
func (a *Agent) pluginSpec(n state.Node) (catalog.Spec, error) {
	var p mission.PluginSpec
	for _, ps := range a.pluginBlocks() {
		if ps.Name == n.PluginKind {
			p = ps
		}
	}
	cfg := map[string]any{}
	for k, v := range p.Config {
		cfg[k] = v
	}
	var seed uint64
	if m := a.cfg.Mission; m != nil {
		seed = m.Seed
		for _, mn := range m.Nodes {
			if mn.ID == n.ID {
				for k, v := range mn.Config {
					cfg[k] = v
				}
			}
		}
	}
	dir := filepath.Join(a.dataDir, "nodes", n.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return catalog.Spec{}, fmt.Errorf("agent: node dir: %w", err)
	}
	return catalog.Spec{
		Name: n.ID, Kind: n.PluginKind, Block: blockName(p, n.PluginKind), Builtin: p.Builtin || p.Path == "", Path: p.Path, SHA256: p.SHA256,
		Config: cfg, Node: sdk.NodeInfo{ID: n.ID, Shard: n.Shard, DataDir: dir, Seed: seed},
	}, nil
}

func (a *Agent) newCatalog(specs []catalog.Spec) (*catalog.Catalog, error) {
	cc := catalog.DefaultConfig()
	cc.Logger = a.cfg.Logger
	cc.SelfPath = a.cfg.SelfPath
	cc.Plugins = specs
	return catalog.New(cc)
}

// launcher starts a supervised plugin, in a catalog of its own, for each
// node the client claims after start.
type launcher struct{ a *Agent }

// Launch implements client.Launcher.
func (l launcher) Launch(ctx context.Context, n state.Node) error {
	a := l.a
	a.dmu.Lock()
	_, running := a.dyn[n.ID]
	a.dmu.Unlock()
	if running || (a.cat != nil && catalogHas(a.cat, n.ID)) {
		return nil
	}
	spec, err := a.pluginSpec(n)
	if err != nil {
		return err
	}
	cat, err := a.newCatalog([]catalog.Spec{spec})
	if err != nil {
		return fmt.Errorf("agent: catalog for node %s: %w", n.ID, err)
	}
	if err := cat.Start(ctx); err != nil {
		// A transient failure is retried by the catalog; the node is still
		// claimed so its heartbeats tell the servers how it fares.
		a.log.Error("plugin for a claimed node did not start", "node", n.ID, "error", err)
	}
	a.dmu.Lock()
	defer a.dmu.Unlock()
	if a.dyn == nil {
		a.dyn = map[string]*catalog.Catalog{}
	}
	if a.dclosed {
		cat.Close()
		return errors.New("agent: shutting down")
	}
	a.dyn[n.ID] = cat
	return nil
}

// Stop implements client.Launcher. Nodes served from the agent config's
// catalog keep their plugin until the agent stops.
func (l launcher) Stop(node string) {
	a := l.a
	a.dmu.Lock()
	cat := a.dyn[node]
	delete(a.dyn, node)
	a.dmu.Unlock()
	if cat != nil {
		cat.Close()
	}
}

func catalogHas(c *catalog.Catalog, name string) bool {
	_, err := c.Get(name)
	return !errors.Is(err, catalog.ErrUnknownPlugin)
}
