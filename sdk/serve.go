package sdk

import (
	"context"
	"crypto/tls"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/planetary/planetary/sdk/internal/pluginmtls"
	"google.golang.org/grpc"
)

// ServeOpt configures Serve.
type ServeOpt func(*serveConfig)

type serveConfig struct {
	logger hclog.Logger
	debug  *plugin.ServeTestConfig
	// orphanPoll is how often the parent pid is checked.
	orphanPoll time.Duration
	// grace is how long running tasks get to observe cancellation when the
	// host is gone.
	grace time.Duration
}

// WithLogger replaces the default logger (JSON to stderr, which go-plugin
// relays into the host's log).
func WithLogger(l hclog.Logger) ServeOpt {
	return func(c *serveConfig) { c.logger = l }
}

// WithDebug serves in-process instead of taking over the process: the
// plugin listens, sends its reattach configuration on reattach, serves until
// ctx ends and then closes closeCh (either channel may be nil). Use it to run
// an agent under a debugger or inside a test; sdktest.Run uses it. The
// parent-death watch is off in this mode.
func WithDebug(ctx context.Context, reattach chan<- *plugin.ReattachConfig, closeCh chan<- struct{}) ServeOpt {
	return func(c *serveConfig) {
		c.debug = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closeCh}
	}
}

// Serve serves the agent made by factory as a planetary plugin. It is the
// whole of a plugin's main. Serve logs JSON to stderr, speaks gRPC over
// mutual TLS, and exits the process when the host process dies (a
// SIGKILLed host never leaves a plugin running): on Linux the kernel sends
// SIGTERM on parent death, and a watch on the parent pid covers the rest.
// On host death, running tasks are cancelled and get a short grace period.
func Serve(factory func() Agent, opts ...ServeOpt) {
	cfg := serveConfig{orphanPoll: 250 * time.Millisecond, grace: 3 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = hclog.New(&hclog.LoggerOptions{
			Name:       "plugin",
			Level:      hclog.Debug,
			Output:     os.Stderr,
			JSONFormat: true,
		})
	}

	life, stop := context.WithCancel(context.Background())
	defer stop()
	if cfg.debug != nil && cfg.debug.Context != nil {
		defer context.AfterFunc(cfg.debug.Context, stop)()
	}

	impl := factory()
	p := newGRPCServerPlugin(impl, cfg.logger, life)

	if cfg.debug == nil {
		go watchParent(life, stop, cfg, p)
	}

	sc := &plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{PluginName: p},
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(o...)
		},
		Logger: cfg.logger,
		Test:   cfg.debug,
	}
	// The host's key and certificate for this process, when it passed them;
	// otherwise go-plugin's automatic mTLS answers the host's certificate.
	if tc, err := pluginmtls.ServerConfig(); err != nil {
		cfg.logger.Warn("falling back to automatic mTLS", "error", err)
	} else if tc != nil {
		sc.TLSProvider = func() (*tls.Config, error) { return tc, nil }
	}
	plugin.Serve(sc)
}

// watchParent exits the process once the host is gone.
func watchParent(life context.Context, stop context.CancelFunc, cfg serveConfig, p *agentPlugin) {
	ppid := os.Getppid()
	setParentDeathSignal(syscall.SIGTERM)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	defer signal.Stop(sigs)

	tick := time.NewTicker(cfg.orphanPoll)
	defer tick.Stop()
	// The host may have died before the death signal was armed.
	orphaned := os.Getppid() != ppid
	for !orphaned {
		select {
		case <-life.Done():
			return
		case <-sigs:
			orphaned = true
		case <-tick.C:
			orphaned = os.Getppid() != ppid
		}
	}
	cfg.logger.Warn("host process is gone, exiting", "host_pid", ppid)
	stop()
	done := make(chan struct{})
	go func() { p.tasks.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.grace):
		cfg.logger.Warn("tasks still running after grace period", "grace", cfg.grace)
	}
	os.Exit(3)
}
