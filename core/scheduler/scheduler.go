// Package scheduler is planetary's placement: a pure function from a
// read-only view of the FSM and a seed to one round of decisions
// (assignments, spills, parks) that the leader commits as raft commands.
//
// Plan never reads a clock, a random source or does I/O, and it iterates
// shards, queues and nodes in a fixed order, so the same view contents and
// seed always give identical Decisions. The rules are total orders ending
// in the node id, so no tie is left for the seed to break: the seed is part
// of the signature so that a future rule can break ties with a hash of
// (seed, job id, node id) after the rules below, and today it does not
// change any decision.
//
// One round, per shard in name order (skipped entirely while the system is
// paused; a paused shard is skipped and its jobs wait), per queued job in
// queue order (priority desc, then submit order):
//
//  1. Candidates are the shard's nodes that are Up; have every capability
//     the job requires (exact names: a node's "general" satisfies only
//     "general"); run a plugin of the job's kind when the job names one
//     (PluginKind == Kind; a job without a kind may run on any plugin that
//     offers its capabilities); have capacity (Capacity > 0) and a quota not yet used up
//     by completions; have latency
//     (MeasuredLatencyMs if > 0, else LatencyMs) within the shard's
//     LatencyBudgetMs (0 = no limit); pass the owner's compliance policy
//     (CEL, see below); and quote within the job's MaxPriceMu (0 = no limit;
//     for a job that declares units, the quote less its metered part: a
//     metered quote may exceed max_price, since settlement caps at it).
//     Such a node "fits" the job; it can take it now when it also has room
//     (Capacity minus ActiveCount minus jobs taken earlier this round) and
//     quota room (CompletedOn + ActiveCount + taken < Quota when Quota > 0).
//     A node holds up to Capacity jobs and its client runs MaxConcurrency of
//     them at once, queueing the rest in order, so its next jobs are at hand
//     when running ones finish.
//  2. The winner among nodes that can take it now: a node with a free run
//     slot (min(Capacity, MaxConcurrency) not yet used) before one that
//     would queue the job; then lowest quote, then lowest load
//     (active+taken)/Capacity, then node id. Assignment.Attempt is the job's
//     Attempt + 1 and QuoteMu the quote.
//  3. A job some node fits but none can take now waits. A job no node of its
//     shard fits goes to core/router: spilled to a shard that fits it, or
//     parked with a precise reason.
//  4. Then core/router relieves queue pressure (policy thresholds and
//     MaxQueue) from the tail of what still waits.
//
// At most Config.MaxPerRound decisions are made per round.
//
// Pricing. A node's quote for a job is Price.BaseMu, plus, for each rate
// whose Unit the job declares units of (Job.Units, a metered dimension),
// PerUnitMu times the declared units (state.MeterCost; an overflow makes the
// node unable to quote), plus PerUnitMu for each other rate whose Unit is
// one of the job's capabilities (one unit each; other units count zero
// here), plus the Price.Expr result when set. The metered rates go into the
// assignment (Assignment.Meters), so that completion settles them from the
// plugin's reported usage (state.Settle, docs/pricing.md). Expr is CEL
// over `node` and `job`; a double result is credits (rounded half away from
// zero to micro-credits) and an int or uint result is micro-credits. A
// negative quote or an evaluation error makes the node unable to quote.
//
// CEL variables (both are maps):
//
//	node: id, shard, plugin_kind, capabilities, labels, latency_ms,
//	      attestations {certifications, jurisdiction, data_residency, tags},
//	      deployment {orchestration, image, runtime, entrypoint, version, zones,
//	                  resources {cpu_cores, memory_gb, gpu_class, gpus, storage_gb}}
//	job:  id, shard, home, capabilities, priority, value (credits, double),
//	      max_price (credits, double; 0 = none), kind, hops, attempt
//
// Expressions are compiled once per source text and cached. A compliance
// policy that does not compile lets no node pass: every job that reaches the
// router is parked with the compile error as its reason, and the error is in
// Stats.PolicyError. An expression that does not mention `job` is evaluated
// once per node per round.
package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/common/types/ref"
	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/router"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// View is the read-only FSM state placement needs. raftfsm's *state.Store
// satisfies it. Implementations must return the same answers for the whole
// of a Plan call.
type View interface {
	Shards() []*state.Shard // sorted by name
	Shard(name string) *state.Shard
	Nodes() []*state.Node // sorted by id
	NodesOfShard(shard string) []*state.Node
	// Queue calls fn for the shard's queued jobs in priority desc, then Seq
	// asc order, until fn returns false.
	Queue(shard string, fn func(*state.Job) bool)
	QueueLen(shard string) int
	Parked(fn func(*state.Job) bool)
	ActiveCount(node string) int // assigned + running
	CompletedOn(node string) int64
	// Policy is the owner policy (a copy: the same signature as
	// *state.Store's, so the Store satisfies View).
	Policy() state.Policy
	// Clock is the mission clock (Unix ns), the "now" of spill_grace.
	Clock() int64
}

var _ router.View = View(nil)

// DefaultMaxPerRound is the default bound on decisions per round.
const DefaultMaxPerRound = 4096

// Config configures a Scheduler.
type Config struct {
	Logger hclog.Logger
	// MaxPerRound bounds the decisions (assign + spill + park) of one round.
	// 0 means DefaultMaxPerRound.
	MaxPerRound int
	// MaxHops bounds spillover per job; 0 means the number of shards.
	MaxHops int
	// SpillGrace is the spill_grace of shards that declare none: a job
	// whose shard's capable nodes went down less than this long ago (on the
	// mission clock) waits for them. 0 means DefaultSpillGrace; servers set
	// twice their heartbeat TTL.
	SpillGrace time.Duration
}

// DefaultSpillGrace is Config.SpillGrace's default: twice the default
// heartbeat TTL of a server.
const DefaultSpillGrace = 30 * time.Second

// DefaultConfig returns the default Config.
func DefaultConfig() Config {
	return Config{Logger: hclog.NewNullLogger(), MaxPerRound: DefaultMaxPerRound, SpillGrace: DefaultSpillGrace}
}

// Scheduler plans placement rounds. It keeps only a cache of compiled CEL
// expressions between rounds and is safe for concurrent use.
type Scheduler struct {
	cfg    Config
	logger hclog.Logger
	router *router.Router

	envs   celEnvs
	envErr error

	mu    sync.Mutex
	exprs map[exprKey]*expr
}

// New returns a Scheduler; zero fields of cfg take their defaults.
func New(cfg Config) *Scheduler {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.MaxPerRound <= 0 {
		cfg.MaxPerRound = DefaultMaxPerRound
	}
	if cfg.MaxHops < 0 {
		cfg.MaxHops = 0
	}
	if cfg.SpillGrace <= 0 {
		cfg.SpillGrace = DefaultSpillGrace
	}
	s := &Scheduler{
		cfg:    cfg,
		logger: cfg.Logger.Named("scheduler"),
		exprs:  make(map[exprKey]*expr),
	}
	s.router = router.New(router.Config{Logger: s.logger, MaxHops: cfg.MaxHops})
	s.envs, s.envErr = newCELEnvs()
	if s.envErr != nil {
		s.logger.Error("cel environment unavailable", "error", s.envErr)
	}
	return s
}

// Decisions is one round's outcome, each list in decision order. A spill
// is an assignment to a node of another shard (Assignment.From set).
type Decisions struct {
	Assign []command.Assignment
	Park   []command.Park
	Stats  Stats
}

// Empty reports whether the round decided nothing.
func (d *Decisions) Empty() bool {
	return len(d.Assign) == 0 && len(d.Park) == 0
}

// Stats describes a round.
type Stats struct {
	SystemPaused bool
	PausedShards []string // skipped, sorted
	Shards       int      // shards planned
	Scanned      int      // queued jobs examined in queue order
	Assigned     int      // assignments, spills included
	Spilled      int      // OverBudget + Rerouted + Drained + Overflowed
	OverBudget   int      // estimated wait at home over the latency budget
	Rerouted     int      // home outage beyond spill_grace, or nothing at home fits
	Drained      int      // queue pressure, per policy threshold
	Overflowed   int      // above MaxQueue
	Parked       int
	Waiting      int // examined, left queued (no free slot here or at a target)
	Held         int // left queued for home nodes down within spill_grace
	Truncated    bool
	// PolicyError is the compliance policy's compile error, if any.
	PolicyError string
	// ExprErrors counts CEL evaluation failures (compliance or price).
	ExprErrors int
}

// Plan computes one placement round over v. See the package doc for the
// rules. The seed does not change any decision today (see package doc).
func (s *Scheduler) Plan(v View, seed uint64) Decisions {
	_ = seed
	var d Decisions
	pol := v.Policy()
	if pol.SystemPaused {
		d.Stats.SystemPaused = true
		return d
	}
	rd := s.newRound(v, &pol)
	rd.rt = s.router.Begin(v, rd)
	if rd.compErr != nil {
		d.Stats.PolicyError = rd.compErr.Error()
	}
	budget := s.cfg.MaxPerRound
	var queue []*state.Job
	var routed []shardWaits
	// Pass 1: every shard places its own queue on its own nodes, so the
	// slots a spill takes in pass 2 are ones no local job could use.
	for _, sh := range v.Shards() {
		if budget <= 0 {
			d.Stats.Truncated = true
			break
		}
		if sh.Paused {
			d.Stats.PausedShards = append(d.Stats.PausedShards, sh.Name)
			continue
		}
		d.Stats.Shards++
		queue = queue[:0]
		v.Queue(sh.Name, func(j *state.Job) bool {
			queue = append(queue, j)
			return true
		})
		nodes := rd.nodesOf(sh.Name)
		shapes := shapeMemo{}
		declares := rd.rt.Declares(sh)
		var w shardWaits
		if declares {
			w.sh = sh
		}
		for _, j := range queue {
			if budget <= 0 {
				d.Stats.Truncated = true
				break
			}
			d.Stats.Scanned++
			if shapes.waits(j, sh, nodes) {
				// Every node that could hold this job (up, capabilities,
				// capacity, quota, latency) is full for this round: it
				// waits without pricing or compliance evaluation, so a deep
				// queue costs a round little. Compliance and price are
				// judged when the job is reached while such a node has a
				// free slot.
				w.add(j, waitQueued)
				continue
			}
			ji := &jobInfo{j: j}
			best, fits := rd.pick(ji, sh, nodes)
			switch {
			case best != nil:
				shapes.reset() // a slot was taken
				best.taken++
				d.Assign = append(d.Assign, command.Assignment{
					JobID: j.ID, Attempt: j.Attempt + 1, Node: best.n.ID, QuoteMu: best.quote,
					Meters: meters(j, best.n),
				})
				budget--
				continue
			case fits:
				w.add(j, waitQueued)
				continue
			}
			held, outage := rd.homeDown(j, sh, nodes)
			if !declares {
				// No target: the job is parked at home (and unparked when
				// a node comes up or the topology otherwise changes).
				if r := rd.rt.Away(sh, j, held, outage); r.Action == router.Park {
					d.Park = append(d.Park, command.Park{JobID: j.ID, Reason: r.Reason})
					budget--
				}
				continue
			}
			kind := waitAway
			if held {
				kind = waitHeld
			} else if outage {
				kind = waitOutage
			}
			w.add(j, kind)
		}
		if declares {
			routed = append(routed, w)
		} else {
			d.Stats.Waiting += w.queued
		}
	}
	// Pass 2: each shard's router, in shard order, routes what still waits.
	for i := range routed {
		if budget <= 0 {
			d.Stats.Truncated = true
			break
		}
		budget = rd.route(&routed[i], &d, budget)
	}
	if budget <= 0 {
		d.Stats.Truncated = true
	}
	rs := rd.rt.Stats()
	d.Stats.OverBudget, d.Stats.Rerouted, d.Stats.Drained, d.Stats.Overflowed = rs.OverBudget, rs.Rerouted, rs.Drained, rs.Overflowed
	d.Stats.Assigned, d.Stats.Parked = len(d.Assign), len(d.Park)
	for _, a := range d.Assign {
		if a.From != "" {
			d.Stats.Spilled++
		}
	}
	d.Stats.ExprErrors = rd.exprErrors
	return d
}

// Why a job still waits after pass 1.
const (
	waitQueued uint8 = iota // home has a node that fits it, with no free slot now
	waitHeld                // home's capable nodes are down within spill_grace
	waitOutage              // home's capable nodes are down (or retired) beyond it
	waitAway                // no node of home could ever take it
)

// shardWaits is one shard's jobs left waiting by pass 1, in queue order.
type shardWaits struct {
	sh     *state.Shard
	jobs   []*state.Job
	kinds  []uint8
	queued int
}

func (w *shardWaits) add(j *state.Job, kind uint8) {
	if kind == waitQueued {
		w.queued++
	}
	if w.sh != nil {
		w.jobs = append(w.jobs, j)
		w.kinds = append(w.kinds, kind)
	}
}

// shapeLoad is, for the jobs of one capability set in one shard, what the
// wait estimate needs: the slots of the nodes that could take them (up, or
// down within spill_grace) and the jobs those hold or that wait before.
type shapeLoad struct {
	slots int64 // jobs those nodes hold (Capacity)
	ahead int64 // active + taken on them, plus jobs of the shape that stay
}

// route runs a shard's router over its waiting jobs: the latency budget
// and the outage rules in queue order, then queue pressure from the tail
// on what stays. It returns the decisions budget left.
func (rd *round) route(w *shardWaits, d *Decisions, budget int) int {
	sh := w.sh
	nodes := rd.nodesOf(sh.Name)
	useBudget := sh.LatencyBudgetMs > 0 && sh.ServiceMeanNs > 0
	loads := map[string]*shapeLoad{}
	loadOf := func(j *state.Job) *shapeLoad {
		k := shapeKey(j.Kind, j.Capabilities)
		l := loads[k]
		if l == nil {
			x := rd.shapeLoad(j, sh, nodes)
			l = &x
			loads[k] = l
		}
		return l
	}
	var pending []*state.Job
	var ests []int64
	for i, j := range w.jobs {
		if budget <= 0 {
			return budget
		}
		switch w.kinds[i] {
		case waitQueued:
			l := loadOf(j)
			est := router.EstimateWaitMs(l.ahead, l.slots, sh.ServiceMeanNs)
			if useBudget && est > sh.LatencyBudgetMs {
				if r := rd.rt.OverBudget(sh, j, est); r.Action == router.Spill {
					d.Assign = append(d.Assign, r.Assign)
					budget--
					continue
				}
			}
			l.ahead++
			pending = append(pending, j)
			ests = append(ests, est)
			d.Stats.Waiting++
		default:
			r := rd.rt.Away(sh, j, w.kinds[i] == waitHeld, w.kinds[i] == waitHeld || w.kinds[i] == waitOutage)
			switch r.Action {
			case router.Spill:
				d.Assign = append(d.Assign, r.Assign)
				budget--
			case router.Park:
				d.Park = append(d.Park, command.Park{JobID: j.ID, Reason: r.Reason})
				budget--
			default:
				if w.kinds[i] == waitHeld {
					d.Stats.Held++
				} else {
					d.Stats.Waiting++
				}
			}
		}
	}
	if budget <= 0 || !rd.rt.UnderPressure(sh, len(pending)) {
		return budget
	}
	done := make([]bool, len(pending))
	spills := rd.rt.Relieve(sh, pending, ests, done, budget)
	d.Assign = append(d.Assign, spills...)
	d.Stats.Waiting -= len(spills)
	return budget - len(spills)
}

// shapeKey identifies a kind and capability set.
func shapeKey(kind string, caps []string) string {
	k := strings.Join(caps, "\x00")
	if kind != "" {
		k = kind + "\x01" + k
	}
	return k
}

// shapeLoad sums, over sh's nodes that pass j's static filters when up (or
// would, being down within spill_grace), their Capacity and the jobs they
// hold now (active and taken this round).
func (rd *round) shapeLoad(j *state.Job, sh *state.Shard, nodes []*nodeInfo) shapeLoad {
	var l shapeLoad
	ji := &jobInfo{j: j}
	for _, ni := range nodes {
		switch {
		case ni.n.Status == state.NodeUp:
			if _, ok := staticStage(ji, ni, sh); !ok {
				continue
			}
		case rd.inGrace(ni.n, sh):
			if !staticUp(ji, ni, sh) {
				continue
			}
		default:
			continue
		}
		l.slots += ni.hold
		l.ahead += ni.active + ni.taken
	}
	return l
}

// grace is sh's spill_grace in nanoseconds.
func (rd *round) grace(sh *state.Shard) int64 {
	if sh.SpillGraceMs > 0 {
		return sh.SpillGraceMs * 1_000_000
	}
	return int64(rd.s.cfg.SpillGrace)
}

// inGrace reports whether n is down and went down less than sh's
// spill_grace ago on the mission clock.
func (rd *round) inGrace(n *state.Node, sh *state.Shard) bool {
	return n.Status == state.NodeDown && rd.now-n.LastStatusAt < rd.grace(sh)
}

// homeDown classifies a job no up node of sh fits: held when a node that
// would take it were it up went down within spill_grace; outage when such a
// node exists but is down (or retired) for longer.
func (rd *round) homeDown(j *state.Job, sh *state.Shard, nodes []*nodeInfo) (held, outage bool) {
	ji := &jobInfo{j: j}
	for _, ni := range nodes {
		if ni.n.Status == state.NodeUp || !staticUp(ji, ni, sh) {
			continue
		}
		if rd.inGrace(ni.n, sh) {
			return true, true
		}
		outage = true
	}
	return false, outage
}

// round is the per-Plan working state.
type round struct {
	s          *Scheduler
	v          View
	rt         *router.Round
	compliance *expr
	compErr    error
	nodes      map[string][]*nodeInfo // by shard, sorted by id
	exprErrors int
	// compMemo holds compliance results by node and the job fields the
	// policy reads (see expr.memo), for this round.
	compMemo map[string]bool
	keyBuf   []byte
	now      int64          // the mission clock
	free     map[string]int // free run slots of a shard's up nodes, for Take
}

type nodeInfo struct {
	n         *state.Node
	slots     int64 // jobs it runs at once: min(Capacity, MaxConcurrency)
	hold      int64 // jobs it holds (running or queued on its client): Capacity
	active    int64
	completed int64
	taken     int64
	val       ref.Val
	// cached node-only results: 0 unknown, 1 pass, 2 fail
	comp      uint8
	priceExpr *expr
	quote     int64 // scratch: the quote for the job being placed
}

type jobInfo struct {
	j   *state.Job
	val ref.Val
}

func (s *Scheduler) newRound(v View, pol *state.Policy) *round {
	rd := &round{s: s, v: v, nodes: make(map[string][]*nodeInfo), now: v.Clock(), free: make(map[string]int)}
	if src := strings.TrimSpace(pol.CompliancePolicy); src != "" {
		rd.compliance = s.compile(exprCompliance, src)
		rd.compErr = rd.compliance.err
	}
	return rd
}

func (rd *round) nodesOf(shard string) []*nodeInfo {
	if ns, ok := rd.nodes[shard]; ok {
		return ns
	}
	src := rd.v.NodesOfShard(shard)
	ns := make([]*nodeInfo, 0, len(src))
	for _, n := range src {
		// A node holds up to Capacity jobs (Hold: none while a drain
		// holds it back); its client runs MaxConcurrency of them at once
		// and queues the rest in order.
		ni := &nodeInfo{
			n:         n,
			slots:     min(n.RunSlots(), n.Hold()),
			hold:      n.Hold(),
			active:    int64(rd.v.ActiveCount(n.ID)),
			completed: rd.v.CompletedOn(n.ID),
		}
		if src := strings.TrimSpace(n.Price.Expr); src != "" {
			ni.priceExpr = rd.s.compile(exprPrice, src)
		}
		ns = append(ns, ni)
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].n.ID < ns[j].n.ID })
	rd.nodes[shard] = ns
	return ns
}

func effectiveLatency(n *state.Node) int64 {
	if n.MeasuredLatencyMs > 0 {
		return n.MeasuredLatencyMs
	}
	return n.LatencyMs
}

// stage is how far a node got through the filters for a job; a higher stage
// is closer to fitting. Explanations report the furthest stage any node got.
type stage uint8

const (
	stageDown       stage = iota // not up
	stageCaps                    // up, lacks a capability
	stageKind                    // has the capabilities, its plugin is not of the job's kind
	stageCapacity                // has the capabilities, zero slots
	stageQuota                   // quota used up by completions
	stageLatency                 // over the shard's latency budget
	stageCompliance              // blocked by the compliance policy
	stagePrice                   // cannot quote, or over the job's max price
	stageFits
)

type verdict struct {
	stage stage
	quote int64
	err   error
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		ok := false
		for _, h := range have {
			if h == w {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (rd *round) jobVal(ji *jobInfo) ref.Val {
	if ji.val == nil {
		ji.val = rd.s.jobValue(ji.j)
	}
	return ji.val
}

func (rd *round) nodeVal(ni *nodeInfo) ref.Val {
	if ni.val == nil {
		ni.val = rd.s.nodeValue(ni.n)
	}
	return ni.val
}

// judge runs the static filters of node ni for job ji in shard sh.
func (rd *round) judge(ji *jobInfo, ni *nodeInfo, sh *state.Shard) verdict {
	if st, ok := staticStage(ji, ni, sh); !ok {
		return verdict{stage: st}
	}
	j := ji.j
	if !rd.compliant(ji, ni) {
		return verdict{stage: stageCompliance}
	}
	q, metered, err := rd.quote(ji, ni)
	if err != nil {
		return verdict{stage: stagePrice, err: err}
	}
	if j.MaxPriceMu > 0 && q-metered > j.MaxPriceMu {
		// What the job costs with no metered usage is over its max price.
		// A metered quote above it is allowed: settlement caps at max_price.
		return verdict{stage: stagePrice, quote: q}
	}
	return verdict{stage: stageFits, quote: q}
}

// staticStage applies the filters that need no expression evaluation: up,
// capabilities, kind, capacity, quota and latency. ok is false with the stage that
// failed.
func staticStage(ji *jobInfo, ni *nodeInfo, sh *state.Shard) (stage, bool) {
	n, j := ni.n, ji.j
	switch {
	case n.Status != state.NodeUp:
		return stageDown, false
	case !hasAll(n.Capabilities, j.Capabilities):
		return stageCaps, false
	case j.Kind != "" && n.PluginKind != j.Kind:
		return stageKind, false
	case n.RunSlots() <= 0:
		// A node held back from new work (a drain) has run slots still:
		// its jobs wait for it or another node, not park.
		return stageCapacity, false
	case n.Quota > 0 && ni.completed >= n.Quota:
		return stageQuota, false
	case sh.LatencyBudgetMs > 0 && effectiveLatency(n) > sh.LatencyBudgetMs:
		return stageLatency, false
	}
	return stageCompliance, true
}

// staticUp is staticStage for a node as if it were up: whether it would
// pass the static filters for ji.
func staticUp(ji *jobInfo, ni *nodeInfo, sh *state.Shard) bool {
	if ni.n.Status == state.NodeRetired {
		return false
	}
	up := *ni
	n := *ni.n
	n.Status = state.NodeUp
	up.n = &n
	_, ok := staticStage(ji, &up, sh)
	return ok
}

func (rd *round) compliant(ji *jobInfo, ni *nodeInfo) bool {
	if rd.compErr != nil {
		return false
	}
	c := rd.compliance
	if c == nil {
		return true
	}
	if c.nodeOnly {
		if ni.comp == 0 {
			ni.comp = 2
			if rd.evalCompliance(ni, nil) {
				ni.comp = 1
			}
		}
		return ni.comp == 1
	}
	if !c.memo {
		return rd.evalCompliance(ni, ji)
	}
	rd.keyBuf = jobKey(append(rd.keyBuf[:0], ni.n.ID...), ji.j, c.jobFields)
	if ok, hit := rd.compMemo[string(rd.keyBuf)]; hit {
		return ok
	}
	ok := rd.evalCompliance(ni, ji)
	if rd.compMemo == nil {
		rd.compMemo = make(map[string]bool)
	}
	rd.compMemo[string(rd.keyBuf)] = ok
	return ok
}

func (rd *round) evalCompliance(ni *nodeInfo, ji *jobInfo) bool {
	var jv ref.Val
	if ji != nil {
		jv = rd.jobVal(ji)
	}
	ok, err := rd.compliance.evalBool(rd.nodeVal(ni), jv)
	if err != nil {
		rd.exprErrors++
		return false
	}
	return ok
}

// quote prices job ji on node ni from the node's replicated price schedule;
// metered is the part of it charged for the job's declared units.
func (rd *round) quote(ji *jobInfo, ni *nodeInfo) (q, metered int64, err error) {
	p := &ni.n.Price
	q = p.BaseMu
	for _, r := range p.Rates {
		if units, ok := state.QuantityOf(ji.j.Units, r.Unit); ok {
			// A metered dimension: the declared units.
			c, err := state.MeterCost(r.PerUnitMu, units)
			if err == nil {
				q, err = state.AddMu(q, c)
			}
			if err == nil {
				metered, err = state.AddMu(metered, c)
			}
			if err != nil {
				return 0, 0, fmt.Errorf("node %s price: %s for %s units of %s: %w", ni.n.ID,
					credits(r.PerUnitMu), state.FormatMicro(units), r.Unit, err)
			}
			continue
		}
		for _, c := range ji.j.Capabilities {
			if r.Unit == c {
				if q, err = state.AddMu(q, r.PerUnitMu); err != nil {
					return 0, 0, fmt.Errorf("node %s price: rate of %s: %w", ni.n.ID, r.Unit, err)
				}
				break
			}
		}
	}
	if ni.priceExpr != nil {
		if ni.priceExpr.err != nil {
			rd.exprErrors++
			return 0, 0, fmt.Errorf("node %s price: %w", ni.n.ID, ni.priceExpr.err)
		}
		var jv ref.Val
		if !ni.priceExpr.nodeOnly {
			jv = rd.jobVal(ji)
		}
		x, err := ni.priceExpr.evalMicro(rd.nodeVal(ni), jv)
		if err != nil {
			rd.exprErrors++
			return 0, 0, fmt.Errorf("node %s price: %w", ni.n.ID, err)
		}
		if q, err = state.AddMu(q, x); err != nil {
			return 0, 0, fmt.Errorf("node %s price: expression: %w", ni.n.ID, err)
		}
	}
	if q < 0 {
		return 0, 0, fmt.Errorf("node %s price: %w (%d)", ni.n.ID, ErrNegativeQuote, q)
	}
	return q, metered, nil
}

// meters are the rates of n's schedule that a quote for j charged for the
// units j declares (see quote), in unit order; nil when none.
func meters(j *state.Job, n *state.Node) []state.Meter {
	if len(j.Units) == 0 {
		return nil
	}
	var out []state.Meter
	for _, r := range n.Price.Rates {
		if _, ok := state.QuantityOf(j.Units, r.Unit); ok {
			out = append(out, state.Meter{Unit: r.Unit, PerUnitMu: r.PerUnitMu})
		}
	}
	slices.SortStableFunc(out, func(a, b state.Meter) int { return strings.Compare(a.Unit, b.Unit) })
	return out
}

// free reports whether ni has a free run slot and quota room now.
func (ni *nodeInfo) free() bool { return ni.room(ni.slots) }

// holds reports whether ni can take one more job to queue behind its
// running ones (capacity beyond its concurrency) and has quota room.
func (ni *nodeInfo) holds() bool { return ni.room(ni.hold) }

func (ni *nodeInfo) room(limit int64) bool {
	used := ni.active + ni.taken
	if used >= limit {
		return false
	}
	return ni.n.Quota <= 0 || ni.completed+used < ni.n.Quota
}

// better reports whether a beats b: lower quote, lower load, lower id.
func better(a, b *nodeInfo) bool {
	if a.quote != b.quote {
		return a.quote < b.quote
	}
	la, lb := (a.active+a.taken)*b.n.Capacity, (b.active+b.taken)*a.n.Capacity
	if la != lb {
		return la < lb
	}
	return a.n.ID < b.n.ID
}

// pick returns the winning node that can take ji now (nil if none), and
// whether any node of the shard fits ji at all.
func (rd *round) pick(ji *jobInfo, sh *state.Shard, nodes []*nodeInfo) (*nodeInfo, bool) {
	var best *nodeInfo
	fits := false
	for _, ni := range nodes {
		vd := rd.judge(ji, ni, sh)
		if vd.stage != stageFits {
			continue
		}
		fits = true
		if !ni.holds() {
			continue
		}
		ni.quote = vd.quote
		// A node with a free run slot beats one that would queue the job.
		switch nf, bf := ni.free(), best != nil && best.free(); {
		case best == nil, nf && !bf, nf == bf && better(ni, best):
			best = ni
		}
	}
	return best, fits
}

// shapeMemo remembers, within a shard's pass of a round, whether jobs of
// one capability set and kind have a node that passes the static filters and
// whether any of those has a free slot. Capability sets are interned by
// the store, so the slice identifies the set; the memo is reset whenever a
// slot is taken.
type shapeMemo struct {
	caps   []string
	kind   string
	valid  bool
	static bool // some node passes the static filters
	free   bool // ... and one of those has a free slot
}

func (m *shapeMemo) reset() { m.valid = false }

// waits reports whether j can only wait this round: some node passes its
// static filters and none of those has a free slot.
func (m *shapeMemo) waits(j *state.Job, sh *state.Shard, nodes []*nodeInfo) bool {
	if !m.valid || m.kind != j.Kind || len(m.caps) != len(j.Capabilities) || (len(j.Capabilities) > 0 && &m.caps[0] != &j.Capabilities[0]) {
		ji := jobInfo{j: j}
		m.caps, m.kind, m.valid, m.static, m.free = j.Capabilities, j.Kind, true, false, false
		for _, ni := range nodes {
			if _, ok := staticStage(&ji, ni, sh); ok {
				m.static = true
				if ni.holds() {
					m.free = true
					break
				}
			}
		}
	}
	return m.static && !m.free
}

// Fits implements router.Fitter.
func (rd *round) Fits(job *state.Job, shard string) bool {
	sh := rd.v.Shard(shard)
	if sh == nil {
		return false
	}
	ji := &jobInfo{j: job}
	for _, ni := range rd.nodesOf(shard) {
		if rd.judge(ji, ni, sh).stage == stageFits {
			return true
		}
	}
	return false
}

// Take implements router.Fitter: it places job on the best node of shard
// that fits it and has a free run slot now (lowest quote, then load, then
// id), skipping nodes slower than maxMs (> 0).
func (rd *round) Take(job *state.Job, shard string, maxMs int64) (command.Assignment, int64, bool) {
	sh := rd.v.Shard(shard)
	if sh == nil {
		return command.Assignment{}, 0, false
	}
	nodes := rd.nodesOf(shard)
	free, ok := rd.free[shard]
	if !ok {
		for _, ni := range nodes {
			if ni.n.Status == state.NodeUp && ni.free() {
				free += int(ni.slots - ni.active - ni.taken)
			}
		}
		rd.free[shard] = free
	}
	if free <= 0 {
		return command.Assignment{}, 0, false
	}
	ji := &jobInfo{j: job}
	var best *nodeInfo
	for _, ni := range nodes {
		if !ni.free() {
			continue
		}
		if maxMs > 0 && effectiveLatency(ni.n) > maxMs {
			continue
		}
		vd := rd.judge(ji, ni, sh)
		if vd.stage != stageFits {
			continue
		}
		ni.quote = vd.quote
		if best == nil || better(ni, best) {
			best = ni
		}
	}
	if best == nil {
		return command.Assignment{}, 0, false
	}
	best.taken++
	rd.free[shard]--
	return command.Assignment{JobID: job.ID, Attempt: job.Attempt + 1, Node: best.n.ID, QuoteMu: best.quote,
			Meters: meters(job, best.n)},
		effectiveLatency(best.n), true
}

// credits formats micro-credits as decimal credits.
func credits(mu int64) string {
	return strconv.FormatFloat(float64(mu)/state.Micro, 'f', -1, 64)
}

// Explain implements router.Fitter: it reports the furthest filter stage any
// node of shards reached for job.
func (rd *round) Explain(job *state.Job, shards []string) string {
	var scope string
	switch {
	case shards == nil:
		scope = "in any shard"
		for _, s := range rd.v.Shards() {
			shards = append(shards, s.Name)
		}
	case len(shards) == 1:
		scope = "in " + shards[0]
	default:
		scope = "in any of " + strings.Join(shards, ", ")
	}
	ji := &jobInfo{j: job}
	top := stageDown
	var cheapest *nodeInfo
	var cheapestQ int64
	var priceErr error
	budgets := map[int64][]string{}
	var kinds []string // plugin kinds of up nodes with the capabilities, in node order
	for _, name := range shards {
		sh := rd.v.Shard(name)
		if sh == nil {
			continue
		}
		for _, ni := range rd.nodesOf(name) {
			vd := rd.judge(ji, ni, sh)
			if vd.stage > top {
				top = vd.stage
			}
			switch vd.stage {
			case stageKind:
				k := ni.n.PluginKind
				if k == "" {
					k = "none"
				}
				if !slices.Contains(kinds, k) {
					kinds = append(kinds, k)
				}
			case stageLatency:
				b := budgets[sh.LatencyBudgetMs]
				if len(b) == 0 || b[len(b)-1] != name {
					budgets[sh.LatencyBudgetMs] = append(b, name)
				}
			case stagePrice:
				if vd.err != nil {
					if priceErr == nil {
						priceErr = vd.err
					}
				} else if cheapest == nil || vd.quote < cheapestQ {
					cheapest, cheapestQ = ni, vd.quote
				}
			}
		}
	}
	switch top {
	case stageDown, stageCaps:
		var what string
		switch {
		case len(job.Capabilities) > 0 && job.Kind != "":
			what = fmt.Sprintf(" has capabilities %v (and plugin kind %s)", job.Capabilities, job.Kind)
		case len(job.Capabilities) > 0:
			what = fmt.Sprintf(" has capabilities %v", job.Capabilities)
		case job.Kind != "":
			what = " has plugin kind " + job.Kind
		}
		return "no up node " + scope + what
	case stageKind:
		return fmt.Sprintf("no up node %s with capabilities %v has plugin kind %s (kinds there: %s)",
			scope, job.Capabilities, job.Kind, strings.Join(kinds, ", "))
	case stageCapacity:
		return fmt.Sprintf("every capable node %s has zero capacity", scope)
	case stageQuota:
		return fmt.Sprintf("every capable node %s has used up its quota", scope)
	case stageLatency:
		if len(budgets) == 1 {
			for b := range budgets {
				return fmt.Sprintf("latency budget %dms exceeded by every capable node", b)
			}
		}
		keys := make([]int64, 0, len(budgets))
		for b := range budgets {
			keys = append(keys, b)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		parts := make([]string, 0, len(keys))
		for _, b := range keys {
			parts = append(parts, fmt.Sprintf("%s %dms", strings.Join(budgets[b], ","), b))
		}
		return fmt.Sprintf("latency budgets exceeded by every capable node (%s)", strings.Join(parts, "; "))
	case stageCompliance:
		if rd.compErr != nil {
			return fmt.Sprintf("compliance policy does not compile: %v", rd.compErr)
		}
		return "blocked by compliance policy"
	case stagePrice:
		if cheapest != nil {
			return fmt.Sprintf("no node within max price %s (cheapest quote %s on %s)",
				credits(job.MaxPriceMu), credits(cheapestQ), cheapest.n.ID)
		}
		return fmt.Sprintf("no node could quote: %v", priceErr)
	}
	return "no node " + scope + " can take it"
}
