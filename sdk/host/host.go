// Package host is the host half of the plugin protocol: it launches an agent
// plugin process, checks its binary and handshake, negotiates the API version
// and exposes the agent's RPCs as Go calls. It is used by planetary's core
// only; plugin authors never import it.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/internal/agentpb"
	"github.com/planetary/planetary/sdk/internal/convert"
	"github.com/planetary/planetary/sdk/internal/pluginmtls"
)

var (
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("invalid plugin config")
	// ErrNotFound means the plugin binary does not exist.
	ErrNotFound = errors.New("plugin binary not found")
	// ErrNotExecutable means the plugin path is not an executable file.
	ErrNotExecutable = errors.New("plugin binary is not executable")
	// ErrChecksum means the binary does not match its sha256 pin.
	ErrChecksum = errors.New("plugin binary does not match its sha256 pin")
	// ErrStart means the process did not complete the plugin handshake:
	// it exited, hung, or wrote something other than a handshake line.
	ErrStart = errors.New("plugin failed to start")
	// ErrAPIVersion means the agent and host share no API version.
	ErrAPIVersion = errors.New("no API version in common with the plugin")
	// ErrNotImplemented means the agent lacks an optional capability.
	ErrNotImplemented = errors.New("not implemented by the agent")
	// ErrConfigRejected means the agent refused its configuration.
	ErrConfigRejected = errors.New("agent rejected its configuration")
	// ErrUnhealthy means the agent answered its health probe as unhealthy.
	ErrUnhealthy = errors.New("agent is unhealthy")
	// ErrExited means the plugin process is gone.
	ErrExited = errors.New("plugin process exited")
	// ErrCall is any other failed call to the plugin.
	ErrCall = errors.New("plugin call failed")
	// ErrStreamClosed is reported for tasks still running when their execute
	// stream ended; the tasks may or may not have run.
	ErrStreamClosed = errors.New("execute stream closed")
	// ErrTaskCancelled is reported for a task that ended because it was
	// cancelled.
	ErrTaskCancelled = errors.New("task cancelled")
	// ErrTaskFailed is reported for a task that produced no result (the
	// agent returned an error); it is retryable.
	ErrTaskFailed = errors.New("task produced no result")
	// ErrUndeliverable is returned by ExecStream.Send for a task the
	// transport cannot carry (larger than sdk.MaxMessageBytes encoded, or a
	// string field that is not UTF-8). Retrying cannot help; the stream
	// stays open for the other tasks.
	ErrUndeliverable = errors.New("task cannot be delivered to the plugin")
)

// Config describes one plugin process.
type Config struct {
	// Name names the plugin in logs and errors.
	Name string
	// Path is the executable; Args are its arguments.
	Path string
	Args []string
	// SHA256 pins the binary (hex). Empty means unpinned.
	SHA256 string
	Logger hclog.Logger
	// Env is added to the host's environment for the plugin.
	Env []string
	// StartTimeout bounds the handshake.
	StartTimeout time.Duration
	// CallTimeout bounds unary calls whose ctx has no deadline.
	CallTimeout time.Duration
}

// DefaultConfig returns defaults for the timeouts.
func DefaultConfig() Config {
	return Config{StartTimeout: 10 * time.Second, CallTimeout: 10 * time.Second}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalidConfig)
	}
	if c.Path == "" {
		return fmt.Errorf("%w: plugin %q: path is empty", ErrInvalidConfig, c.Name)
	}
	if c.SHA256 != "" {
		if b, err := hex.DecodeString(c.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%w: plugin %q: sha256 must be 64 hex digits", ErrInvalidConfig, c.Name)
		}
	}
	return nil
}

// Plugin is a running agent plugin.
type Plugin struct {
	name   string
	path   string
	client *plugin.Client
	cmd    *exec.Cmd
	rpc    agentpb.AgentClient
	logger hclog.Logger
	info   sdk.Info
	api    string
	call   time.Duration
	// batch is set when the agent reads batched execute requests.
	batch bool
	// ownTLS is set when the plugin served with the certificate generated
	// for it (false: go-plugin's automatic mTLS, or a reattached plugin).
	ownTLS bool
	// expected is set once the host asked for the process's end (Kill,
	// ExpectExit): its exit then logs at INFO, not ERROR.
	expected *atomic.Bool
}

// exitLogger is the logger go-plugin reports the plugin process's end
// through: an exit the host asked for logs at INFO with expected=true; any
// other (a crash) stays at ERROR.
type exitLogger struct {
	hclog.Logger
	expected *atomic.Bool
}

func (l exitLogger) Error(msg string, args ...any) {
	if msg == "plugin process exited" && l.expected.Load() {
		l.Logger.Info(msg, append(args, "expected", true)...)
		return
	}
	l.Logger.Error(msg, args...)
}

// Launch starts the plugin process, verifies its pin, completes the
// handshake over mutual TLS, and negotiates the API version. ctx bounds
// the whole launch; on any failure the process is killed.
func Launch(ctx context.Context, cfg Config) (*Plugin, error) {
	def := DefaultConfig()
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = def.StartTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = def.CallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkExecutable(cfg.Name, cfg.Path); err != nil {
		return nil, err
	}
	if cfg.SHA256 != "" {
		// Checked here first, so the error can give the actual hash; the
		// launch checks it again on the file it runs.
		if err := checkSHA256(cfg); err != nil {
			return nil, err
		}
	}

	// Mutual TLS with P-256 keys: the host's made once per process, the
	// plugin's per launch and handed over on descriptor 3 (see pluginmtls).
	// Windows passes no extra descriptors: there, go-plugin's automatic
	// mTLS.
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = append([]string{}, cfg.Env...)
	expected := new(atomic.Bool)
	cc := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          plugin.PluginSet{sdk.PluginName: &clientPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           exitLogger{Logger: cfg.Logger.Named(cfg.Name), expected: expected},
		StartTimeout:     cfg.StartTimeout,
	}
	var ml *pluginmtls.Launch
	if runtime.GOOS == "windows" {
		cc.AutoMTLS = true
	} else {
		var err error
		if ml, err = pluginmtls.NewLaunch(); err != nil {
			return nil, fmt.Errorf("plugin %q: %w: %w", cfg.Name, ErrStart, err)
		}
		defer ml.File.Close()
		cmd.Env = append(cmd.Env, ml.Env...)
		cmd.ExtraFiles = []*os.File{ml.File}
		cc.TLSConfig = ml.Config
	}
	if cfg.SHA256 != "" {
		sum, _ := hex.DecodeString(cfg.SHA256)
		cc.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := plugin.NewClient(cc)
	p, err := connect(ctx, cfg, client)
	if err != nil {
		expected.Store(true)
		client.Kill()
		return nil, err
	}
	p.cmd, p.expected = cmd, expected
	p.ownTLS = ml != nil && ml.UsedOwnCert()
	return p, nil
}

// Reattach connects to a plugin already serving in debug mode
// (sdk.WithDebug). Kill then only closes the connection's plugin server.
func Reattach(ctx context.Context, cfg Config, rc *plugin.ReattachConfig) (*Plugin, error) {
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultConfig().CallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: name is empty", ErrInvalidConfig)
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          plugin.PluginSet{sdk.PluginName: &clientPlugin{}},
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           cfg.Logger.Named(cfg.Name),
	})
	p, err := connect(ctx, cfg, client)
	if err != nil {
		client.Kill()
		return nil, err
	}
	return p, nil
}

// ChecksumError is a plugin binary that does not match its sha256 pin. It
// wraps ErrChecksum and gives both hashes.
type ChecksumError struct {
	Plugin string
	Path   string
	// Pinned is the configured sha256, Actual the file's (hex, lower case;
	// Actual says why when the file could not be read).
	Pinned, Actual string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("plugin %q: %s: %v: pinned %s, actual %s", e.Plugin, e.Path, ErrChecksum, e.Pinned, e.Actual)
}

// Unwrap returns ErrChecksum.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

func checkSHA256(cfg Config) error {
	actual := fileSHA256(cfg.Path)
	if pinned := strings.ToLower(cfg.SHA256); actual != pinned {
		return &ChecksumError{Plugin: cfg.Name, Path: cfg.Path, Pinned: pinned, Actual: actual}
	}
	return nil
}

// fileSHA256 is the hex sha256 of the file at path, or why it has none.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func checkExecutable(name, path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("plugin %q: %s: %w", name, path, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("plugin %q: %s: %w: %w", name, path, ErrNotExecutable, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("plugin %q: %s (mode %s): %w", name, path, st.Mode(), ErrNotExecutable)
	}
	return nil
}

func connect(ctx context.Context, cfg Config, client *plugin.Client) (*Plugin, error) {
	type dispensed struct {
		raw any
		err error
	}
	ch := make(chan dispensed, 1)
	go func() {
		proto, err := client.Client()
		if err != nil {
			ch <- dispensed{nil, err}
			return
		}
		raw, err := proto.Dispense(sdk.PluginName)
		ch <- dispensed{raw, err}
	}()
	var d dispensed
	select {
	case <-ctx.Done():
		client.Kill()
		return nil, fmt.Errorf("plugin %q (%s): %w: %w", cfg.Name, cfg.Path, ErrStart, ctx.Err())
	case d = <-ch:
	}
	if d.err != nil {
		if errors.Is(d.err, plugin.ErrChecksumsDoNotMatch) {
			return nil, &ChecksumError{Plugin: cfg.Name, Path: cfg.Path, Pinned: strings.ToLower(cfg.SHA256), Actual: fileSHA256(cfg.Path)}
		}
		return nil, fmt.Errorf("plugin %q (%s): %w: %w", cfg.Name, cfg.Path, ErrStart, d.err)
	}
	rpc, ok := d.raw.(agentpb.AgentClient)
	if !ok {
		return nil, fmt.Errorf("plugin %q (%s): %w: dispensed %T", cfg.Name, cfg.Path, ErrStart, d.raw)
	}
	p := &Plugin{name: cfg.Name, path: cfg.Path, client: client, rpc: rpc, logger: cfg.Logger.Named(cfg.Name), call: cfg.CallTimeout}

	cctx, cancel := p.bound(ctx)
	defer cancel()
	resp, err := rpc.Info(cctx, &agentpb.InfoRequest{})
	if err != nil {
		return nil, p.wrap("Info", err)
	}
	p.info = convert.InfoFromProto(resp)
	p.batch = resp.GetExecuteBatch()
	api, ok := pickAPIVersion(p.info.APIVersions, sdk.SupportedAPIVersions())
	if !ok {
		return nil, fmt.Errorf("plugin %q (%s): agent speaks %v, host speaks %v: %w",
			cfg.Name, cfg.Path, p.info.APIVersions, sdk.SupportedAPIVersions(), ErrAPIVersion)
	}
	p.api = api
	return p, nil
}

// pickAPIVersion returns the last of ours (newest) that the agent lists.
func pickAPIVersion(theirs, ours []string) (string, bool) {
	for i := len(ours) - 1; i >= 0; i-- {
		if slices.Contains(theirs, ours[i]) {
			return ours[i], true
		}
	}
	return "", false
}

// Name is the plugin's configured name.
func (p *Plugin) Name() string { return p.name }

// Path is the plugin's executable.
func (p *Plugin) Path() string { return p.path }

// APIVersion is the negotiated API version.
func (p *Plugin) APIVersion() string { return p.api }

// Pid is the plugin's process id (0 when reattached).
func (p *Plugin) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		if rc := p.client.ReattachConfig(); rc != nil {
			return rc.Pid
		}
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the plugin process has exited.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Kill asks the plugin to shut down, then kills it after a short grace.
// Its exit is an expected one.
func (p *Plugin) Kill() {
	p.ExpectExit()
	p.client.Kill()
}

// ExpectExit records that the process is about to end on purpose (the
// host, or an operator's planned outage, is stopping it): its exit logs at
// INFO instead of ERROR, and ExitExpected reports it.
func (p *Plugin) ExpectExit() {
	if p.expected != nil {
		p.expected.Store(true)
	}
}

// ExitExpected reports whether ExpectExit (or Kill) was called.
func (p *Plugin) ExitExpected() bool { return p.expected != nil && p.expected.Load() }

// Has reports whether the agent implements an optional interface
// (sdk.CapFingerprint, ...).
func (p *Plugin) Has(capability string) bool {
	return slices.Contains(p.info.Implements, capability)
}

// bound applies the default call timeout to a ctx without a deadline.
func (p *Plugin) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.call)
}

// wrap turns a gRPC error into an error naming the plugin.
func (p *Plugin) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	switch {
	case st.Code() == codes.Unimplemented:
		return fmt.Errorf("agent %q does not implement %s: %w", p.name, what, ErrNotImplemented)
	case st.Code() == codes.InvalidArgument && what == "Configure":
		return fmt.Errorf("agent %q: %s: %w: %s", p.name, what, ErrConfigRejected, st.Message())
	case p.client.Exited():
		return fmt.Errorf("agent %q (%s): %s: %w", p.name, p.path, what, ErrExited)
	case st.Code() == codes.DeadlineExceeded:
		return fmt.Errorf("agent %q (%s): %s: %w: %w", p.name, p.path, what, ErrCall, context.DeadlineExceeded)
	case st.Code() == codes.Canceled:
		return fmt.Errorf("agent %q (%s): %s: %w: %w", p.name, p.path, what, ErrCall, context.Canceled)
	default:
		return fmt.Errorf("agent %q (%s): %s: %w: %s", p.name, p.path, what, ErrCall, st.Message())
	}
}

func (p *Plugin) need(capability, what string) error {
	if p.Has(capability) {
		return nil
	}
	return fmt.Errorf("agent %q does not implement %s: %w", p.name, what, ErrNotImplemented)
}

// Info returns the agent's info as read at launch.
func (p *Plugin) Info(context.Context) (sdk.Info, error) { return p.info, nil }

// Schema asks the agent for its config schema.
func (p *Plugin) Schema(ctx context.Context) (sdk.Schema, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	resp, err := p.rpc.Schema(ctx, &agentpb.SchemaRequest{})
	if err != nil {
		return sdk.Schema{}, p.wrap("Schema", err)
	}
	return convert.SchemaFromProto(resp), nil
}

// Configure sends constant config values to the agent.
func (p *Plugin) Configure(ctx context.Context, cfg sdk.Config) error {
	req, err := convert.ConfigToProto(cfg)
	if err != nil {
		return fmt.Errorf("agent %q: %w", p.name, err)
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	_, err = p.rpc.Configure(ctx, req)
	return p.wrap("Configure", err)
}

// Health probes the agent; nil means healthy.
func (p *Plugin) Health(ctx context.Context) error {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	resp, err := p.rpc.Health(ctx, &agentpb.HealthRequest{})
	if err != nil {
		return p.wrap("Health", err)
	}
	if !resp.GetHealthy() {
		return fmt.Errorf("agent %q: %w: %s", p.name, ErrUnhealthy, resp.GetMessage())
	}
	return nil
}

// PriceSchedule asks the agent for its price schedule.
func (p *Plugin) PriceSchedule(ctx context.Context) (sdk.PriceSchedule, error) {
	if err := p.need(sdk.CapPriceSchedule, "PriceSchedule"); err != nil {
		return sdk.PriceSchedule{}, err
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	resp, err := p.rpc.PriceSchedule(ctx, &agentpb.PriceScheduleRequest{})
	if err != nil {
		return sdk.PriceSchedule{}, p.wrap("PriceSchedule", err)
	}
	return convert.PriceScheduleFromProto(resp), nil
}

// Attest asks the agent for its attestations.
func (p *Plugin) Attest(ctx context.Context) (sdk.Attestations, error) {
	if err := p.need(sdk.CapAttest, "Attest"); err != nil {
		return sdk.Attestations{}, err
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	resp, err := p.rpc.Attest(ctx, &agentpb.AttestRequest{})
	if err != nil {
		return sdk.Attestations{}, p.wrap("Attest", err)
	}
	return convert.AttestationsFromProto(resp), nil
}

// Fingerprint opens the fingerprint stream. The channel closes when ctx
// ends or the plugin ends the stream.
func (p *Plugin) Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error) {
	if err := p.need(sdk.CapFingerprint, "Fingerprint"); err != nil {
		return nil, err
	}
	stream, err := p.rpc.Fingerprint(ctx, &agentpb.FingerprintRequest{})
	if err != nil {
		return nil, p.wrap("Fingerprint", err)
	}
	out := make(chan sdk.Fingerprint, 1)
	go func() {
		defer close(out)
		for {
			resp, err := stream.Recv()
			if err != nil {
				if ctx.Err() == nil {
					p.logger.Debug("fingerprint stream ended", "error", err)
				}
				return
			}
			select {
			case out <- convert.FingerprintFromProto(resp):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// clientPlugin is the host side of the go-plugin glue.
type clientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host does not serve agents")
}

func (clientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return agentpb.NewAgentClient(c), nil
}

var _ plugin.GRPCPlugin = (*clientPlugin)(nil)

// ensure Plugin offers the sdk surface.
var (
	_ sdk.Agent          = (*Plugin)(nil)
	_ sdk.PriceScheduler = (*Plugin)(nil)
	_ sdk.Attester       = (*Plugin)(nil)
	_ sdk.Fingerprinter  = (*Plugin)(nil)
	_ sdk.HealthChecker  = (*Plugin)(nil)
)
