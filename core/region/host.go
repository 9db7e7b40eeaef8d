// Package region is the region host: one process that runs every region of
// a mission as its own raft group. Each region (a shard's region attribute
// groups shards, core/mission.Mission.Regions) gets its own core/server.Server
// with its own data dir, raft instance, TCP transport, leader loops, job
// registry, nodes, queues, event chain and ledger, and holds the region's own
// mission (core/mission.Mission.ForRegion). What crosses between regions is
// each region's ledger checkpoint, published to every other region over
// core/link (publish.go), the ACL region's tokens, replicated to every
// other region (aclrepl.go), and jobs handed from one region's shard to
// another's as a two-step hand-off recorded in both regions' logs
// (handoff.go), never through another region's raft; routes into
// another region's shards are kept aside by the mission split, and a
// region that stops leaves the others running.
package region

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
)

// Errors returned by the host.
var (
	// ErrNoRegion is returned for a region the host's mission does not have.
	ErrNoRegion = errors.New("region: no such region")
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("region: invalid config")
)

// Config configures a Host.
type Config struct {
	// DataDir is the host's data dir; region NAME keeps raft.db,
	// snapshots/ and events/ in DataDir/regions/NAME.
	DataDir string
	// Mission is the mission whose regions the host runs.
	Mission *mission.Mission
	// Server is the template of every region's server config. The host
	// sets NodeID (Server.NodeID, or "server", then "." and the region),
	// DataDir and PathBase (the region's dir) and Bootstrap (true: each
	// region is a one-server raft group); a relative allowed root lies under
	// each region's dir, so two regions never write the same checkpoint.
	Server server.Config
	// BindAddrs are the regions' raft addresses by region name; a region
	// not named binds "127.0.0.1:0" (a free loopback port).
	BindAddrs map[string]string
	// Tune, when set, adjusts one region's server config after the host
	// filled it (raft timeouts, TTLs): each region's config is its own.
	Tune func(region string, c *server.Config)
	// Publish configures the links that carry each region's ledger
	// checkpoint to the others (publish.go).
	Publish PublishConfig
	// ACLRegion is the region that holds the ACL tokens (aclrepl.go): the
	// front sends it every ACL write and the host replicates its tokens to
	// the other regions. Default: DefaultACLRegion when the mission has
	// it, else the first region.
	ACLRegion string
	// ACL configures the links that replicate the ACL region's tokens.
	ACL ACLConfig
	// SpillTick is how often the host runs the spillover policies into
	// other regions' shards as hand-offs (spill.go; default
	// DefaultSpillTick).
	SpillTick time.Duration
	// HandOff configures the links that carry hand-offs between regions
	// (handoff.go).
	HandOff HandOffConfig
	// Logger is named per region; nil logs nothing.
	Logger hclog.Logger
}

// Validate checks the config.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	case c.Mission == nil:
		return fmt.Errorf("%w: Mission is required", ErrInvalidConfig)
	case len(c.Mission.Regions()) == 0:
		return fmt.Errorf("%w: mission %s declares no shard, so no region", ErrInvalidConfig, c.Mission.Name)
	}
	names := c.Mission.RegionNames()
	if c.ACLRegion != "" && !slices.Contains(names, c.ACLRegion) {
		return fmt.Errorf("%w: ACLRegion: %q is not a region of mission %s (regions: %s)",
			ErrInvalidConfig, c.ACLRegion, c.Mission.Name, strings.Join(names, ", "))
	}
	for name := range c.BindAddrs {
		if !slices.Contains(names, name) {
			return fmt.Errorf("%w: BindAddrs names region %q, which mission %s does not have (regions: %s)",
				ErrInvalidConfig, name, c.Mission.Name, strings.Join(names, ", "))
		}
	}
	return nil
}

// Host runs one server per region of a mission in this process.
type Host struct {
	cfg     Config
	order   []string
	shards  map[string]string // shard -> region, declared and scheduled
	servers map[string]*server.Server

	pub    *publisher     // nil for one region
	acl    string         // the ACL region
	aclr   *aclReplicator // nil for one region
	spill  *spiller       // cross-region spillover rounds (spill.go); nil without such policies
	faults *linkFaults    // the links' fault layers (faults.go)
	ho     *handOffs      // nil for one region

	mu      sync.Mutex
	stopped map[string]bool
}

// Dir returns the data dir of region name under the host's data dir.
func Dir(dataDir, name string) string { return filepath.Join(dataDir, "regions", name) }

// New starts a server for every region of the mission, each on its own data
// dir, waits until each leads (each is the one voter of its raft group) and
// applies the region's own mission to it. On an existing data dir each
// region recovers from its own raft log and snapshots, and applying an
// unchanged mission proposes nothing. ctx bounds the start.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	h := &Host{
		cfg:     cfg,
		order:   cfg.Mission.RegionNames(),
		shards:  map[string]string{},
		servers: map[string]*server.Server{},
		stopped: map[string]bool{},
		acl:     cfg.ACLRegion,
		faults:  newFaults(),
	}
	if h.acl == "" {
		h.acl = h.order[0]
		if slices.Contains(h.order, DefaultACLRegion) {
			h.acl = DefaultACLRegion
		}
	}
	for _, s := range cfg.Mission.Shards {
		h.shards[s.Name] = s.Region
	}
	for _, e := range cfg.Mission.Schedule {
		if a, ok := e.Args.(*mission.ShardRegisterAction); ok {
			h.shards[a.Shard.Name] = cfg.Mission.RegionOf(a.Shard.Name)
		}
	}
	for _, name := range h.order {
		if err := h.start(ctx, name); err != nil {
			_ = h.Shutdown()
			return nil, err
		}
	}
	// Every link between regions runs through the host's fault layer
	// (faults.go).
	h.cfg.Publish.Wrap = h.wrapFaults(h.cfg.Publish.Wrap)
	h.cfg.ACL.Wrap = h.wrapFaults(h.cfg.ACL.Wrap)
	h.cfg.HandOff.Wrap = h.wrapFaults(h.cfg.HandOff.Wrap)
	pub, err := startPublisher(h)
	if err != nil {
		_ = h.Shutdown()
		return nil, err
	}
	h.pub = pub
	if h.aclr, err = startACL(h); err != nil {
		_ = h.Shutdown()
		return nil, err
	}
	ho, err := startHandOffs(h)
	if err != nil {
		_ = h.Shutdown()
		return nil, err
	}
	h.ho = ho
	h.spill = startSpill(h)
	return h, nil
}

// serverConfig is region name's server config.
func (h *Host) serverConfig(name string) server.Config {
	c := h.cfg.Server
	dir := Dir(h.cfg.DataDir, name)
	id := c.NodeID
	if id == "" {
		id = "server"
	}
	c.NodeID = id + "." + name
	c.Region = name
	c.DataDir = dir
	c.PathBase = dir
	c.Bootstrap = true
	c.InMemory = false
	c.BindAddr = "127.0.0.1:0"
	if a, ok := h.cfg.BindAddrs[name]; ok {
		c.BindAddr = a
	}
	c.AdvertiseAddr = ""
	c.AllowedRoots = nil
	for _, r := range h.cfg.Server.AllowedRoots {
		if !filepath.IsAbs(r) {
			r = filepath.Join(dir, r)
		}
		c.AllowedRoots = append(c.AllowedRoots, filepath.Clean(r))
	}
	c.Logger = h.cfg.Logger.Named("region." + name)
	if h.cfg.Tune != nil {
		h.cfg.Tune(name, &c)
	}
	return c
}

// start opens region name's server, waits for it to lead and applies the
// region's mission.
func (h *Host) start(ctx context.Context, name string) error {
	sub, err := h.cfg.Mission.ForRegion(name)
	if err != nil {
		return err
	}
	if d := sub.Dangling(); len(d) > 0 {
		return fmt.Errorf("region %s: its mission references what it does not hold: %s", name, strings.Join(d, "; "))
	}
	sc := h.serverConfig(name)
	if err := os.MkdirAll(sc.DataDir, 0o755); err != nil {
		return fmt.Errorf("region %s: create data dir: %w", name, err)
	}
	srv, err := server.New(sc)
	if err != nil {
		return fmt.Errorf("region %s: %w", name, err)
	}
	h.servers[name] = srv
	if err := waitLeading(ctx, srv); err != nil {
		return fmt.Errorf("region %s: %w", name, err)
	}
	cmd, err := sub.ApplyCommand(command.Meta{Reason: "region host start"})
	if err != nil {
		return fmt.Errorf("region %s: %w", name, err)
	}
	var paths []server.PathField
	for _, wp := range sub.WritePaths() {
		paths = append(paths, server.PathField{Field: wp.Field, Path: wp.Path})
	}
	if _, err := srv.ApplyMission(ctx, server.Actor{Name: "region-host", Caps: server.CapAll}, cmd, paths); err != nil {
		return fmt.Errorf("region %s: apply its mission: %w", name, err)
	}
	return nil
}

// waitLeading waits until srv is the leader of its raft group with its FSM
// caught up (a one-server group elects itself).
func waitLeading(ctx context.Context, srv *server.Server) error {
	if err := srv.WaitLeader(ctx); err != nil {
		return fmt.Errorf("wait for a leader: %w", err)
	}
	return srv.WaitReady(ctx)
}

// Regions lists the host's regions in declaration order.
func (h *Host) Regions() []string { return slices.Clone(h.order) }

// Region returns region name's server, nil for a region the host does not
// run. A stopped region's server is still returned; its calls fail with
// server.ErrShutdown.
func (h *Host) Region(name string) *server.Server { return h.servers[name] }

// RegionOf returns the region holding shard, "" when no region does: a
// declared shard's region, or that of a shard a schedule entry registers.
func (h *Host) RegionOf(shard string) string { return h.shards[shard] }

// ServerOf returns the server of the region holding shard, nil for none.
func (h *Host) ServerOf(shard string) *server.Server { return h.servers[h.shards[shard]] }

// Leader returns the raft address and id of region name's leader, empty
// when the region has none (it is stopped, or between elections).
func (h *Host) Leader(name string) (addr, id string) {
	srv := h.servers[name]
	if srv == nil || h.isStopped(name) {
		return "", ""
	}
	return srv.Leader()
}

// StopRegion shuts region name's server down (its raft group, leader loops
// and event log); the other regions run on.
func (h *Host) StopRegion(name string) error {
	srv := h.servers[name]
	if srv == nil {
		return fmt.Errorf("%w: %q (regions: %s)", ErrNoRegion, name, strings.Join(h.order, ", "))
	}
	h.mu.Lock()
	h.stopped[name] = true
	h.mu.Unlock()
	if err := srv.Shutdown(); err != nil {
		return fmt.Errorf("region %s: %w", name, err)
	}
	return nil
}

func (h *Host) isStopped(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopped[name]
}

// Shutdown stops the hand-off, ACL and checkpoint links, then every
// region's server, in reverse declaration order, and returns the first
// error.
func (h *Host) Shutdown() error {
	if h.spill != nil {
		h.spill.stop()
	}
	if h.ho != nil {
		h.ho.stop()
	}
	if h.aclr != nil {
		h.aclr.stop()
	}
	if h.pub != nil {
		h.pub.stop()
	}
	var first error
	for i := len(h.order) - 1; i >= 0; i-- {
		name := h.order[i]
		srv := h.servers[name]
		if srv == nil {
			continue
		}
		h.mu.Lock()
		h.stopped[name] = true
		h.mu.Unlock()
		if err := srv.Shutdown(); err != nil && first == nil {
			first = fmt.Errorf("region %s: %w", name, err)
		}
	}
	return first
}
