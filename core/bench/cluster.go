package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// ErrNoLeader is returned when the cluster has no leader in time.
var ErrNoLeader = errors.New("bench: no cluster leader")

// ClusterConfig configures a cluster of agent child processes: three
// servers (raft over loopback, BoltDB with fsync) and one client serving
// the sim nodes.
type ClusterConfig struct {
	Logger hclog.Logger
	// SelfPath is the planetary binary every process runs.
	SelfPath string
	// Servers is the number of server processes (3 by default).
	Servers int
	// Nodes and Capacity describe the client's sim nodes.
	Nodes    int
	Capacity int
	// RaftHeartbeatTimeout and RaftElectionTimeout are passed to the
	// servers' -raft-heartbeat-timeout / -raft-election-timeout (0 keeps
	// the agent's defaults).
	RaftHeartbeatTimeout time.Duration
	RaftElectionTimeout  time.Duration
	// StartTimeout bounds forming the cluster and bringing the nodes up.
	StartTimeout time.Duration
	// DataDir holds the processes' configs and data (a temp dir when
	// empty, removed by Close).
	DataDir string
}

// DefaultClusterConfig is the P2 cluster: three servers and one client
// with two sim nodes of capacity 10,000.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{Servers: 3, Nodes: 2, Capacity: 10_000, StartTimeout: 90 * time.Second}
}

// Cluster is a running cluster of agent child processes.
type Cluster struct {
	cfg     ClusterConfig
	dir     string
	ownDir  bool
	http    []string // server API addresses (host:port)
	servers []*childProc
	client  *childProc
	apis    []*api.Client
}

// childProc is one agent child process with the tail of its output.
type childProc struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
	// killed is set once the process was killed on purpose.
	killed atomic.Bool
}

// tailBuffer keeps the last bytes written (bounded).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 16 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > tailMax {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (p *childProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after grace.
func (p *childProc) stop(grace time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
	// Plugin processes of the group that outlived their agent.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (c *ClusterConfig) fill() {
	d := DefaultClusterConfig()
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Servers <= 0 {
		c.Servers = d.Servers
	}
	if c.Nodes <= 0 {
		c.Nodes = d.Nodes
	}
	if c.Capacity <= 0 {
		c.Capacity = d.Capacity
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = d.StartTimeout
	}
}

// StartCluster starts the servers, waits for a leader, applies the bench
// mission, starts the client and waits until its nodes are up. Close the
// cluster when done, also after an error.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	cfg.fill()
	if cfg.SelfPath == "" {
		return nil, ErrNoSelf
	}
	c := &Cluster{cfg: cfg, dir: cfg.DataDir}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "planetary-bench-cluster-")
		if err != nil {
			return nil, fmt.Errorf("bench: temp dir: %w", err)
		}
		c.dir, c.ownDir = d, true
	}
	binds := make([]string, cfg.Servers)
	for i := range cfg.Servers {
		h, err := freeAddr()
		if err != nil {
			return c, err
		}
		b, err := freeAddr()
		if err != nil {
			return c, err
		}
		c.http, binds[i] = append(c.http, h), b
		cl, err := api.NewClient(api.ClientConfig{Address: "http://" + h})
		if err != nil {
			return c, fmt.Errorf("bench: api client: %w", err)
		}
		c.apis = append(c.apis, cl)
	}
	for i := range cfg.Servers {
		path := filepath.Join(c.dir, fmt.Sprintf("s%d.hcl", i))
		if err := os.WriteFile(path, []byte(c.serverHCL(i, binds[i])), 0o644); err != nil {
			return c, fmt.Errorf("bench: server config: %w", err)
		}
		args := []string{"agent", "-server", "-config", path}
		if cfg.RaftHeartbeatTimeout > 0 {
			args = append(args, "-raft-heartbeat-timeout", cfg.RaftHeartbeatTimeout.String())
		}
		if cfg.RaftElectionTimeout > 0 {
			args = append(args, "-raft-election-timeout", cfg.RaftElectionTimeout.String())
		}
		p, err := c.launch(fmt.Sprintf("s%d", i), args)
		if err != nil {
			return c, err
		}
		c.servers = append(c.servers, p)
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if _, err := c.WaitLeader(sctx, -1); err != nil {
		return c, err
	}
	src := missionHCL(WorkloadSim, cfg.Nodes, cfg.Capacity, "")
	if err := pollUntil(sctx, 50*time.Millisecond, func() (bool, error) {
		for i, a := range c.apis {
			if c.servers[i].exited() {
				continue
			}
			actx, acancel := context.WithTimeout(sctx, 10*time.Second)
			_, err := a.ApplyMission(actx, "bench-mission.hcl", []byte(src), "bench")
			acancel()
			if err == nil {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return c, fmt.Errorf("bench: apply mission: %w%s", err, c.outputs())
	}
	path := filepath.Join(c.dir, "c1.hcl")
	if err := os.WriteFile(path, []byte(c.clientHCL()+src), 0o644); err != nil {
		return c, fmt.Errorf("bench: client config: %w", err)
	}
	p, err := c.launch("c1", []string{"agent", "-client", "-config", path})
	if err != nil {
		return c, err
	}
	c.client = p
	if err := pollUntil(sctx, 50*time.Millisecond, func() (bool, error) {
		if c.client.exited() {
			return false, fmt.Errorf("bench: client agent exited%s", c.outputs())
		}
		nodes, err := c.anyAPI(sctx, func(ctx context.Context, a *api.Client) (any, error) { return a.Nodes(ctx) })
		if err != nil {
			return false, nil
		}
		up := 0
		for _, n := range nodes.([]api.Node) {
			if n.Status == state.NodeUp.String() {
				up++
			}
		}
		return up >= cfg.Nodes, nil
	}); err != nil {
		return c, fmt.Errorf("bench: nodes up: %w%s", err, c.outputs())
	}
	return c, nil
}

func (c *Cluster) serverHCL(i int, bind string) string {
	var join []string
	for j, h := range c.http {
		if j != i {
			join = append(join, strconv.Quote(h))
		}
	}
	return fmt.Sprintf(`agent {
  name      = "s%d"
  data_dir  = %q
  http_addr = %q
  log_level = "error"
  server {
    enabled          = true
    bind             = %q
    bootstrap_expect = %d
    join             = [%s]
  }
  acl {
    enabled = false
  }
}
`, i, filepath.Join(c.dir, fmt.Sprintf("s%d", i)), c.http[i], bind, len(c.http), strings.Join(join, ", "))
}

func (c *Cluster) clientHCL() string {
	var servers []string
	for _, h := range c.http {
		servers = append(servers, strconv.Quote("http://"+h))
	}
	return fmt.Sprintf(`agent {
  name      = "c1"
  data_dir  = %q
  log_level = "error"
  client {
    enabled = true
    servers = [%s]
  }
  acl {
    enabled = false
  }
}

plugin "sim" {}

`, filepath.Join(c.dir, "c1"), strings.Join(servers, ", "))
}

func (c *Cluster) launch(name string, args []string) (*childProc, error) {
	cmd := exec.Command(c.cfg.SelfPath, args...)
	p := &childProc{name: name, cmd: cmd, out: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// outputs is the tail of every process's output that exited unexpectedly
// (for errors).
func (c *Cluster) outputs() string {
	var b strings.Builder
	for _, p := range append(append([]*childProc(nil), c.servers...), c.client) {
		if p != nil && p.exited() && !p.killed.Load() {
			fmt.Fprintf(&b, "\n%s exited: %s", p.name, tail(p.out.String(), 20))
		}
	}
	return b.String()
}

// Close stops every process and removes a temp data dir.
func (c *Cluster) Close() error {
	var wg sync.WaitGroup
	for _, p := range append(append([]*childProc(nil), c.servers...), c.client) {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(10 * time.Second)
		}()
	}
	wg.Wait()
	if c.ownDir {
		if err := os.RemoveAll(c.dir); err != nil {
			return fmt.Errorf("bench: remove %s: %w", c.dir, err)
		}
	}
	return nil
}

// live reports whether server i runs.
func (c *Cluster) live(i int) bool { return !c.servers[i].exited() && !c.servers[i].killed.Load() }

// anyAPI calls fn on the live servers in turn until one answers.
func (c *Cluster) anyAPI(ctx context.Context, fn func(context.Context, *api.Client) (any, error)) (any, error) {
	var last error = ErrNoLeader
	for i, a := range c.apis {
		if !c.live(i) {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := fn(actx, a)
		cancel()
		if err == nil {
			return v, nil
		}
		last = err
	}
	return nil, last
}

// WaitLeader waits until a live server other than not (-1: any) reports
// itself leader and returns its index.
func (c *Cluster) WaitLeader(ctx context.Context, not int) (int, error) {
	leader := -1
	err := pollUntil(ctx, 10*time.Millisecond, func() (bool, error) {
		for i, a := range c.apis {
			if i == not || !c.live(i) {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			si, err := a.Self(sctx)
			cancel()
			if err == nil && si.Leader {
				leader = i
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return -1, fmt.Errorf("%w: %w%s", ErrNoLeader, err, c.outputs())
	}
	return leader, nil
}

// finished is the number of jobs in a final state, read from a live
// server's /v1/metrics (local state, no forwarding).
func (c *Cluster) finished(ctx context.Context) (int64, error) {
	v, err := c.anyAPI(ctx, func(ctx context.Context, a *api.Client) (any, error) { return a.Metrics(ctx) })
	if err != nil {
		return 0, err
	}
	return finishedFromMetrics(v.(string)), nil
}

// finishedFromMetrics sums planetary_jobs of the completed, failed and
// cancelled states in a Prometheus text exposition.
func finishedFromMetrics(text string) int64 {
	var n int64
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "planetary_jobs{")
		if !ok {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		switch labels {
		case `state="completed"`, `state="failed"`, `state="cancelled"`:
			f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err == nil {
				n += int64(f)
			}
		}
	}
	return n
}

// pollUntil calls cond every interval until it returns true or an error,
// or ctx ends.
func pollUntil(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// LoadConfig configures submissions to a cluster.
type LoadConfig struct {
	// Jobs is the total submitted; Batch jobs per call, from Submitters
	// goroutines, batch k to server k mod servers (the next live one on
	// an error, with retries: job keys make a resubmission idempotent).
	Jobs       int
	Batch      int
	Submitters int
	// Window bounds the jobs submitted and not yet finished.
	Window int
	// WarmupFraction of the jobs finishes before the measured interval.
	WarmupFraction float64
	// TimeBox ends the measurement after this long (0: none); the result
	// then covers the jobs finished so far.
	TimeBox time.Duration
	// StallTimeout ends the run when no job finishes for this long.
	StallTimeout time.Duration
	// Prefix makes the job keys unique across loads on one cluster.
	Prefix string
	// OnProgress, when set, is called with the finished count on every
	// poll (from the measuring goroutine).
	OnProgress func(finished int64)
}

// DefaultLoadConfig is P2's load: 100,000 zero-duration jobs in 1,000-job
// batches from 4 submitters, at most 40,000 unfinished.
func DefaultLoadConfig() LoadConfig {
	return LoadConfig{Jobs: 100_000, Batch: 1000, Submitters: 4, Window: 40_000, WarmupFraction: 0.1,
		StallTimeout: 60 * time.Second, Prefix: "c"}
}

func (l *LoadConfig) fill() {
	d := DefaultLoadConfig()
	if l.Jobs <= 0 {
		l.Jobs = d.Jobs
	}
	if l.Batch <= 0 {
		l.Batch = d.Batch
	}
	if l.Submitters <= 0 {
		l.Submitters = d.Submitters
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	if l.WarmupFraction <= 0 || l.WarmupFraction >= 1 {
		l.WarmupFraction = d.WarmupFraction
	}
	if l.StallTimeout <= 0 {
		l.StallTimeout = d.StallTimeout
	}
	if l.Prefix == "" {
		l.Prefix = d.Prefix
	}
}

// LoadResult is what one load measured.
type LoadResult struct {
	Jobs int
	// Finished is the jobs in a final state at the end (the cluster's
	// count, including earlier loads').
	Finished int64
	// Sustained is jobs finished per second after warm-up; Overall from
	// the first submit.
	Sustained float64
	Overall   float64
	Elapsed   time.Duration
	// TimedOut is set when TimeBox ended the run before every job
	// finished.
	TimedOut bool
	// Retries counts submit calls that failed and were sent again.
	Retries int64
}

// Load submits l.Jobs zero-duration sim jobs and measures how fast they
// finish: submit → place → execute → complete → ledger, across servers.
func (c *Cluster) Load(ctx context.Context, l LoadConfig) (LoadResult, error) {
	l.fill()
	base, err := c.finished(ctx)
	if err != nil {
		return LoadResult{}, fmt.Errorf("bench: read finished jobs: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		next    atomic.Int64
		done    atomic.Int64
		retries atomic.Int64
		errOnce sync.Once
		subErr  error
		wg      sync.WaitGroup
	)
	batches := int64((l.Jobs + l.Batch - 1) / l.Batch)
	payload := payloadFor(WorkloadSim)
	start := time.Now()
	for range l.Submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs := make([]api.JobSubmit, 0, l.Batch)
			for {
				b := next.Add(1) - 1
				if b >= batches {
					return
				}
				for (b+1)*int64(l.Batch)-done.Load() > int64(l.Window) {
					select {
					case <-runCtx.Done():
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
				jobs = jobs[:0]
				for i := b * int64(l.Batch); i < min((b+1)*int64(l.Batch), int64(l.Jobs)); i++ {
					jobs = append(jobs, api.JobSubmit{Key: fmt.Sprintf("%s-%09d", l.Prefix, i), Shard: "earth",
						Capabilities: []string{"bench"}, Value: 0.01, Kind: string(WorkloadSim), Payload: payload})
				}
				if err := c.submit(runCtx, int(b), jobs, &retries); err != nil {
					errOnce.Do(func() { subErr = err; stop() })
					return
				}
			}
		}()
	}
	defer wg.Wait()
	total := int64(l.Jobs)
	warm := int64(float64(total) * l.WarmupFraction)
	var warmAt time.Time
	var boxEnd <-chan time.Time
	if l.TimeBox > 0 {
		t := time.NewTimer(l.TimeBox)
		defer t.Stop()
		boxEnd = t.C
	}
	last, lastAt := int64(-1), time.Now()
	res := LoadResult{Jobs: l.Jobs}
	for {
		n, err := c.finished(runCtx)
		if err == nil {
			f := n - base
			done.Store(f)
			if l.OnProgress != nil {
				l.OnProgress(f)
			}
			now := time.Now()
			if warmAt.IsZero() && f >= warm {
				warmAt, warm = now, f
			}
			if f >= total {
				res.Finished = f
				break
			}
			if f != last {
				last, lastAt = f, now
			}
		}
		if time.Since(lastAt) > l.StallTimeout {
			stop()
			return LoadResult{}, fmt.Errorf("%w: %d of %d jobs finished after %s%s", ErrStalled, last, total, time.Since(start).Round(time.Millisecond), c.outputs())
		}
		select {
		case <-runCtx.Done():
			wg.Wait() // subErr is written by the submitters
			if subErr != nil && ctx.Err() == nil {
				return LoadResult{}, subErr
			}
			return LoadResult{}, runCtx.Err()
		case <-boxEnd:
			res.TimedOut, res.Finished = true, max(last, 0)
			stop()
		case <-time.After(20 * time.Millisecond):
		}
		if res.TimedOut {
			break
		}
	}
	end := time.Now()
	res.Elapsed = end.Sub(start)
	res.Overall = float64(res.Finished) / res.Elapsed.Seconds()
	if d := end.Sub(warmAt); !warmAt.IsZero() && d > 0 && res.Finished > warm {
		res.Sustained = float64(res.Finished-warm) / d.Seconds()
	} else if !res.TimedOut && res.Finished > 0 {
		// Everything finished before a poll saw the warm-up point: a run
		// this short has no steady part, so its overall rate stands.
		res.Sustained = res.Overall
	}
	res.Retries = retries.Load()
	return res, nil
}

// submit sends one batch, starting at server k mod servers and moving to
// the next live server on an error, for up to a minute.
func (c *Cluster) submit(ctx context.Context, k int, jobs []api.JobSubmit, retries *atomic.Int64) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for try := 0; time.Now().Before(deadline); try++ {
		i := (k + try) % len(c.apis)
		if !c.live(i) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := c.apis[i].SubmitJobs(sctx, jobs)
		cancel()
		if err == nil && len(res) == len(jobs) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = fmt.Errorf("bench: %d results for %d jobs", len(res), len(jobs))
		}
		last = err
		retries.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("bench: submit: gave up: %w", last)
}

// FailoverResult is what one leader kill measured.
type FailoverResult struct {
	// Killed is the index of the server that led and was SIGKILLed.
	Killed int
	// NewLeader is the index of the server that leads after it.
	NewLeader int
	// Elected is the time from the kill to the first observation of a new
	// leader (/v1/status/self, polled every 10ms).
	Elected time.Duration
	// FirstAssign is the time from the kill to the leader-stamped time of
	// the first job.assigned event committed after it (read from a
	// survivor's /v1/events).
	FirstAssign time.Duration
}

// KillLeader SIGKILLs the leading server and measures the time until the
// new leader commits its first assignment. Jobs must be queued or
// arriving for an assignment to happen (run it under Load).
func (c *Cluster) KillLeader(ctx context.Context) (FailoverResult, error) {
	leader, err := c.WaitLeader(ctx, -1)
	if err != nil {
		return FailoverResult{}, err
	}
	// The event log position of a survivor just before the kill: every
	// assignment after the kill is past it.
	survivor := (leader + 1) % len(c.apis)
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	evs, err := c.apis[survivor].Events(ectx, 0, 0, "", 1)
	cancel()
	if err != nil {
		return FailoverResult{}, fmt.Errorf("bench: events of s%d: %w", survivor, err)
	}
	from := evs.Head
	p := c.servers[leader]
	p.killed.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return FailoverResult{}, fmt.Errorf("bench: kill s%d: %w", leader, err)
	}
	killedAt := time.Now()
	c.cfg.Logger.Debug("leader killed", "server", leader)
	res := FailoverResult{Killed: leader, NewLeader: -1}
	var found atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if nl, err := c.WaitLeader(lctx, leader); err == nil {
			res.NewLeader, res.Elected = nl, time.Since(killedAt)
		}
	}()
	fctx, fcancel := context.WithTimeout(ctx, 60*time.Second)
	defer fcancel()
	idx := from
	for !found.Load() {
		wctx, cancel := context.WithTimeout(fctx, 3*time.Second)
		evs, err := c.apis[survivor].Events(wctx, idx, time.Second, state.EvJobAssigned, 10_000)
		cancel()
		if err != nil {
			if fctx.Err() != nil {
				wg.Wait()
				return res, fmt.Errorf("bench: no assignment after the kill: %w", fctx.Err())
			}
			continue
		}
		idx = evs.Index
		for _, e := range evs.Events {
			if e.Time > killedAt.UnixNano() {
				res.FirstAssign = time.Duration(e.Time - killedAt.UnixNano())
				found.Store(true)
				break
			}
		}
	}
	wg.Wait()
	return res, nil
}

// ClusterFailoverConfig configures one P7 run.
type ClusterFailoverConfig struct {
	Cluster ClusterConfig
	// Load keeps jobs flowing through the kill; its Jobs should outlast
	// it.
	Load LoadConfig
	// KillAfter is the finished jobs before the leader is killed.
	KillAfter int64
}

// ClusterFailover starts a cluster, loads it, SIGKILLs the leader once
// KillAfter jobs finished and measures the failover.
func ClusterFailover(ctx context.Context, cfg ClusterFailoverConfig) (FailoverResult, error) {
	c, err := StartCluster(ctx, cfg.Cluster)
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return FailoverResult{}, err
	}
	reached := make(chan struct{})
	var once sync.Once
	l := cfg.Load
	l.OnProgress = func(n int64) {
		if n >= cfg.KillAfter {
			once.Do(func() { close(reached) })
		}
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	loadErr := make(chan error, 1)
	go func() {
		_, err := c.Load(lctx, l)
		loadErr <- err
	}()
	select {
	case <-reached:
	case err := <-loadErr:
		if err == nil {
			err = errors.New("bench: the load ended before the kill")
		}
		return FailoverResult{}, err
	case <-ctx.Done():
		return FailoverResult{}, ctx.Err()
	}
	res, err := c.KillLeader(ctx)
	stop()
	<-loadErr
	return res, err
}

// ClusterLifecycle starts a cluster, runs one load on it and stops it.
func ClusterLifecycle(ctx context.Context, cc ClusterConfig, l LoadConfig) (LoadResult, error) {
	c, err := StartCluster(ctx, cc)
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return LoadResult{}, err
	}
	return c.Load(ctx, l)
}
