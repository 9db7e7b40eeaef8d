// Package catalog starts the plugins an agent config declares, through
// sdk/host, and keeps them running: a plugin that crashes is relaunched with
// exponential backoff while the others keep serving. A plugin refused for a
// reason a restart cannot fix (wrong sha256, not executable, config rejected)
// stays down with its error recorded.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/host"
)

var (
	// ErrInvalidConfig is returned by New for a bad Config.
	ErrInvalidConfig = errors.New("invalid catalog config")
	// ErrUnknownPlugin is returned by Get for a name not in the config.
	ErrUnknownPlugin = errors.New("unknown plugin")
	// ErrNotRunning is returned by Get for a plugin that is down.
	ErrNotRunning = errors.New("plugin is not running")
	// ErrConfigInvalid means the plugin's config block does not fit the
	// schema the plugin declares.
	ErrConfigInvalid = errors.New("plugin config does not match the plugin's schema")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("catalog is closed")
)

// Spec is one plugin to run.
type Spec struct {
	Name string
	Kind string
	// Block names the agent-config block the plugin comes from (for
	// example `plugin "geo" in agent.hcl`); failures are reported under it.
	Block string
	// Builtin plugins run as SelfPath with args "plugin serve Kind" (Name
	// when Kind is empty); others run Path, pinned by SHA256.
	Builtin bool
	Path    string
	SHA256  string
	Config  map[string]any
	Node    sdk.NodeInfo
}

// Config configures a Catalog.
type Config struct {
	Logger hclog.Logger
	// SelfPath is the planetary binary, which serves the built-in agents.
	SelfPath string
	Plugins  []Spec
	// StartTimeout bounds one launch (handshake, schema, configure).
	StartTimeout time.Duration
	// MinBackoff and MaxBackoff bound the restart delay, which doubles
	// after each failed restart and resets once a plugin stays up for
	// StableAfter.
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	StableAfter time.Duration
	// Poll is how often a running plugin is checked for exit.
	Poll time.Duration
}

// DefaultConfig returns the default timings.
func DefaultConfig() Config {
	return Config{StartTimeout: 10 * time.Second, MinBackoff: 200 * time.Millisecond, MaxBackoff: 30 * time.Second,
		StableAfter: time.Minute, Poll: 100 * time.Millisecond}
}

// Validate checks the config.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for _, s := range c.Plugins {
		switch {
		case s.Name == "":
			return fmt.Errorf("%w: a plugin has no name", ErrInvalidConfig)
		case seen[s.Name]:
			return fmt.Errorf("%w: plugin %q declared twice", ErrInvalidConfig, s.Name)
		case s.Builtin && c.SelfPath == "":
			return fmt.Errorf("%w: built-in plugin %q needs SelfPath", ErrInvalidConfig, s.Name)
		case !s.Builtin && s.Path == "":
			return fmt.Errorf("%w: plugin %q has no path", ErrInvalidConfig, s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// Plugin states, as Status.State reports them.
const (
	// StateStarting: a launch (handshake, schema, configure) is under way.
	StateStarting = "starting"
	// StateUp: the plugin is running and configured.
	StateUp = "up"
	// StateRefused: the plugin was refused for a reason a restart cannot
	// fix (missing, not executable, sha256 mismatch, no common API version,
	// config not fitting its schema or rejected); it stays down until its
	// spec is updated (Update, e.g. on an agent config reload).
	StateRefused = "refused"
	// StateCrashed: the running plugin exited; it is restarted after the
	// current backoff.
	StateCrashed = "crashed"
	// StateBackingOff: the last launch failed for a reason a retry may
	// fix; the next one waits for the backoff, which doubles each time.
	StateBackingOff = "backing_off"
)

// Status is a plugin's state for reports.
type Status struct {
	Name string
	// Block is the agent-config block the plugin comes from.
	Block string
	// State is one of the State* constants.
	State    string
	Running  bool
	Pid      int
	Restarts int
	// Crashes counts the times the running plugin exited since its spec
	// was last set.
	Crashes int
	// Err is the last launch or exit error ("" when none).
	Err string
	// Reason is why the plugin is not up: the refusal or failure, naming
	// the plugin block, and for a sha256 mismatch both hashes ("" when up).
	Reason string
	// Permanent is set when the plugin stays down until reconfigured.
	Permanent bool
}

type entry struct {
	spec      Spec
	plugin    *host.Plugin
	restarts  int
	crashes   int
	err       error
	permanent bool
	state     string
	// launching is set while a launch of this entry runs; gen counts
	// Updates, so a supervisor's pending restart of an older spec is
	// dropped.
	launching bool
	gen       int
}

// Catalog runs a set of plugins.
type Catalog struct {
	cfg    Config
	logger hclog.Logger

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates cfg and returns a catalog; nothing starts until Start.
func New(cfg Config) (*Catalog, error) {
	def := DefaultConfig()
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = def.StartTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = def.MinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(def.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = def.StableAfter
	}
	if cfg.Poll <= 0 {
		cfg.Poll = def.Poll
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Catalog{cfg: cfg, logger: cfg.Logger.Named("catalog"), entries: map[string]*entry{}}
	for _, s := range cfg.Plugins {
		c.entries[s.Name] = &entry{spec: s, state: StateStarting}
	}
	return c, nil
}

// Start launches every plugin and starts their supervisors. It returns the
// launch errors joined (each naming its plugin); the plugins that started
// serve regardless, and those that failed for a transient reason are
// retried in the background.
func (c *Catalog) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	life, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	names := make([]string, 0, len(c.entries))
	for n, e := range c.entries {
		names = append(names, n)
		e.launching = true
	}
	c.mu.Unlock()
	sort.Strings(names)

	type outcome struct {
		name string
		err  error
	}
	out := make(chan outcome, len(names))
	for _, n := range names {
		go func() { out <- outcome{n, c.launch(ctx, n)} }()
	}
	var errs []error
	for range names {
		o := <-out
		if o.err != nil {
			errs = append(errs, o.err)
		}
	}
	for _, n := range names {
		c.wg.Add(1)
		go c.supervise(life, n)
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// permanentErr reports whether a restart cannot fix err.
func permanentErr(err error) bool {
	for _, e := range []error{host.ErrNotFound, host.ErrNotExecutable, host.ErrChecksum, host.ErrInvalidConfig,
		host.ErrAPIVersion, host.ErrConfigRejected, ErrConfigInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// launch starts one plugin and configures it. The caller has set
// e.launching; launch clears it.
func (c *Catalog) launch(ctx context.Context, name string) error {
	c.mu.Lock()
	e := c.entries[name]
	spec := e.spec
	e.state = StateStarting
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	hc := host.Config{Name: name, Path: spec.Path, SHA256: spec.SHA256, Logger: c.cfg.Logger,
		StartTimeout: c.cfg.StartTimeout}
	if spec.Builtin {
		kind := spec.Kind
		if kind == "" {
			kind = spec.Name
		}
		hc.Path, hc.SHA256, hc.Args = c.cfg.SelfPath, "", []string{"plugin", "serve", kind}
	}
	p, err := host.Launch(ctx, hc)
	if err == nil {
		err = configure(ctx, p, spec)
		if err != nil {
			p.Kill()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e.launching = false
	if err != nil {
		e.err, e.permanent = err, permanentErr(err)
		e.state = StateBackingOff
		if e.permanent {
			e.state = StateRefused
		}
		c.logger.Error("plugin failed to start", "plugin", name, "block", spec.Block, "path", hc.Path,
			"permanent", e.permanent, "error", reason(spec, err))
		return err
	}
	if c.closed {
		p.Kill()
		return ErrClosed
	}
	e.plugin, e.err, e.state = p, nil, StateUp
	c.logger.Info("plugin started", "plugin", name, "pid", p.Pid(), "api", p.APIVersion())
	return nil
}

func configure(ctx context.Context, p *host.Plugin, spec Spec) error {
	schema, err := p.Schema(ctx)
	if err != nil {
		return err
	}
	values := make(map[string]any, len(spec.Config))
	for k, v := range spec.Config {
		values[k] = v
	}
	if errs := host.ValidateConfig(schema, values); len(errs) > 0 {
		return fmt.Errorf("plugin %q: %w: %w", spec.Name, ErrConfigInvalid, errors.Join(errs...))
	}
	return p.Configure(ctx, sdk.Config{Node: spec.Node, Values: values})
}

// supervise restarts a plugin whenever it is down for a reason a retry may
// fix, with backoff. A refused plugin waits for Update.
func (c *Catalog) supervise(life context.Context, name string) {
	defer c.wg.Done()
	backoff := c.cfg.MinBackoff
	up := time.Now()
	tick := time.NewTicker(c.cfg.Poll)
	defer tick.Stop()
	lastGen := 0
	for {
		select {
		case <-life.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		e := c.entries[name]
		if p := e.plugin; p != nil && p.Exited() {
			e.plugin = nil
			e.crashes++
			e.err = fmt.Errorf("plugin %q (pid %d): %w", name, p.Pid(), host.ErrExited)
			e.state = StateCrashed
			if p.ExitExpected() {
				c.logger.Info("plugin exited as expected", "plugin", name, "pid", p.Pid(), "crashes", e.crashes)
			} else {
				c.logger.Warn("plugin exited", "plugin", name, "pid", p.Pid(), "crashes", e.crashes)
			}
		}
		gen := e.gen
		busy := e.launching || e.permanent || e.plugin != nil
		running := e.plugin != nil
		c.mu.Unlock()
		if gen != lastGen {
			// A new spec starts with a fresh backoff.
			lastGen, backoff, up = gen, c.cfg.MinBackoff, time.Now()
		}
		if running && time.Since(up) >= c.cfg.StableAfter {
			backoff = c.cfg.MinBackoff
		}
		if busy {
			continue
		}
		t := time.NewTimer(backoff)
		select {
		case <-life.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
		c.mu.Lock()
		if e.gen != gen || e.launching || e.permanent || e.plugin != nil {
			c.mu.Unlock()
			continue // an Update got there first
		}
		e.restarts++
		e.launching = true
		n := e.restarts
		c.mu.Unlock()
		c.logger.Info("restarting plugin", "plugin", name, "restart", n, "next_backoff", backoff)
		if err := c.launch(life, name); err == nil {
			up = time.Now()
		}
	}
}

// Update replaces the spec of the plugin called spec.Name (for example
// after the agent config was reloaded). A plugin whose spec changed, or
// that is not up (refused, crashed, backing off), is stopped and launched
// again with the new spec; one that is up with an identical spec keeps
// running. It reports whether the plugin was relaunched, and that launch's
// error. A launch under way is waited for first.
func (c *Catalog) Update(ctx context.Context, spec Spec) (bool, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return false, ErrClosed
		}
		e, ok := c.entries[spec.Name]
		if !ok {
			c.mu.Unlock()
			return false, fmt.Errorf("%w: %q", ErrUnknownPlugin, spec.Name)
		}
		if e.launching {
			c.mu.Unlock()
			t := time.NewTimer(c.cfg.Poll)
			select {
			case <-ctx.Done():
				t.Stop()
				return false, ctx.Err()
			case <-t.C:
			}
			continue
		}
		if e.plugin != nil && !e.plugin.Exited() && reflect.DeepEqual(e.spec, spec) {
			c.mu.Unlock()
			return false, nil
		}
		old := e.plugin
		e.spec, e.plugin, e.err, e.permanent = spec, nil, nil, false
		e.crashes, e.restarts = 0, 0
		e.launching, e.state = true, StateStarting
		e.gen++
		c.mu.Unlock()
		if old != nil {
			old.Kill()
		}
		c.logger.Info("plugin spec updated; relaunching", "plugin", spec.Name, "block", spec.Block)
		return true, c.launch(ctx, spec.Name)
	}
}

// Spec returns the current spec of the plugin called name.
func (c *Catalog) Spec(name string) (Spec, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	if !ok {
		return Spec{}, false
	}
	return e.spec, true
}

// reason is a failure as the operator reads it: under the plugin block it
// comes from, and for a sha256 mismatch with both hashes.
func reason(spec Spec, err error) string {
	if err == nil {
		return ""
	}
	block := spec.Block
	if block == "" {
		block = fmt.Sprintf("plugin %q", spec.Kind)
	}
	var ce *host.ChecksumError
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s (node %s): %s does not match its sha256 pin: pinned %s, actual %s",
			block, spec.Name, ce.Path, ce.Pinned, ce.Actual)
	}
	return fmt.Sprintf("%s (node %s): %v", block, spec.Name, err)
}

// Get returns the running plugin called name.
func (c *Catalog) Get(name string) (*host.Plugin, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %q", ErrUnknownPlugin, name)
	case e.plugin == nil || e.plugin.Exited():
		if e.err != nil {
			return nil, fmt.Errorf("plugin %q: %w: %w", name, ErrNotRunning, e.err)
		}
		return nil, fmt.Errorf("plugin %q: %w", name, ErrNotRunning)
	}
	return e.plugin, nil
}

// ExpectExit records that the process of the plugin called name, with
// process id pid, is about to be stopped on purpose (a planned outage): its
// exit then logs at INFO, while a crash stays at ERROR. The plugin is still
// restarted as after any exit.
func (c *Catalog) ExpectExit(name string, pid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[name]
	if e == nil || e.plugin == nil {
		return fmt.Errorf("catalog: plugin %q is not running", name)
	}
	if e.plugin.Pid() != pid {
		return fmt.Errorf("catalog: plugin %q runs as pid %d, not %d", name, e.plugin.Pid(), pid)
	}
	e.plugin.ExpectExit()
	return nil
}

// Status reports every plugin, sorted by name.
func (c *Catalog) Status() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.entries))
	for n, e := range c.entries {
		out = append(out, e.status(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// State reports the plugin called name.
func (c *Catalog) State(name string) (Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	if !ok {
		return Status{}, false
	}
	return e.status(name), true
}

// status is e's Status. Caller holds the catalog's lock.
func (e *entry) status(name string) Status {
	s := Status{Name: name, Block: e.spec.Block, State: e.state, Restarts: e.restarts, Crashes: e.crashes,
		Permanent: e.permanent}
	if e.plugin != nil && !e.plugin.Exited() {
		s.Running, s.Pid = true, e.plugin.Pid()
	} else if s.State == StateUp {
		s.State = StateCrashed // exited; the supervisor has not seen it yet
	}
	if e.err != nil {
		s.Err = e.err.Error()
		if s.State != StateUp {
			s.Reason = reason(e.spec, e.err)
		}
	}
	return s
}

// Close stops the supervisors and kills every plugin.
func (c *Catalog) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
	c.mu.Lock()
	var running []*host.Plugin
	for _, e := range c.entries {
		if e.plugin != nil {
			running = append(running, e.plugin)
			e.plugin = nil
		}
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range running {
		wg.Add(1)
		go func() { defer wg.Done(); p.Kill() }()
	}
	wg.Wait()
}
