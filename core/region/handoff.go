package region

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Link message kinds of hand-offs (docs/architecture.md, Hand-offs).
const (
	// KindHandOffOffer carries an open hand-off from its source region to
	// its target: ID is the hand-off id, the body the msgpack state.HandOff.
	KindHandOffOffer = "handoff.offer"
	// KindHandOffOutcome carries the target's outcome back to the source:
	// ID is the hand-off id, the body a msgpack command.HandOffClose.
	KindHandOffOutcome = "handoff.outcome"
)

// DefaultHandOffRetry is how long a source region waits for the outcome of
// a hand-off it offered before it offers it again.
const DefaultHandOffRetry = 10 * time.Second

// handOffActor is who proposes the hand-off commands in every region.
var handOffActor = server.Actor{Name: "region-host", Caps: server.CapManage}

// HandOffConfig configures the links that carry hand-offs between the
// host's regions: one directed link per ordered pair (a core/link Mesh
// over its Local transport), apart from the checkpoint links.
type HandOffConfig struct {
	// Link is the template of every hand-off link's config; the host sets
	// From, To, Outbox, Transport and Logger.
	Link link.Config
	// Wrap, when set, wraps the transport of the hand-off link from one
	// region to another (fault injection).
	Wrap func(from, to string, t link.Transport) link.Transport
	// Retry is how long a source waits for the outcome of an open hand-off
	// it offered before offering it again under the same id (default
	// DefaultHandOffRetry); the target answers a repeat with the outcome
	// it stored.
	Retry time.Duration
}

// HandOffStatus is one directed hand-off link as the host sees it.
type HandOffStatus struct {
	From string      `json:"from"`
	To   string      `json:"to"`
	Link link.Status `json:"link"`
	// Offers and Outcomes count the messages From queued on the link:
	// hand-offs offered (repeats included) and outcomes answered.
	Offers   uint64 `json:"offers"`
	Outcomes uint64 `json:"outcomes"`
	// At To: Accepted and Refused count the offers To's raft took in
	// (Duplicates those it had recorded already, answered with the stored
	// outcome); Closed the outcomes that closed one of To's hand-offs,
	// Stale those about one closed already; Invalid the messages To could
	// never take (another kind, an undecodable body, another region's).
	Accepted   uint64 `json:"accepted"`
	Refused    uint64 `json:"refused"`
	Duplicates uint64 `json:"duplicates"`
	Closed     uint64 `json:"closed"`
	Stale      uint64 `json:"stale"`
	Invalid    uint64 `json:"invalid"`
}

// handOffs runs the hand-off links of a host: per region a loop that offers
// its open hand-offs, and an inbox that takes offers and outcomes.
type handOffs struct {
	h      *Host
	cfg    HandOffConfig
	logger hclog.Logger
	meshLoops
	outs    map[[2]string]*handOffOutbox
	inboxes map[string]*handOffInbox
	wake    map[string]chan struct{}
}

func startHandOffs(h *Host) (*handOffs, error) {
	if len(h.order) < 2 {
		return nil, nil
	}
	cfg := h.cfg.HandOff
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultHandOffRetry
	}
	o := &handOffs{h: h, cfg: cfg, logger: h.cfg.Logger.Named("handoff"),
		outs: map[[2]string]*handOffOutbox{}, inboxes: map[string]*handOffInbox{}, wake: map[string]chan struct{}{}}
	local := map[string]link.Endpoint{}
	for _, from := range h.order {
		in := &handOffInbox{o: o, region: from, srv: h.servers[from], logger: o.logger.With("region", from), from: map[string]*handOffFrom{}}
		for _, to := range h.order {
			if to != from {
				o.outs[[2]string{from, to}] = newHandOffOutbox()
				in.from[to] = &handOffFrom{}
			}
		}
		o.inboxes[from] = in
		o.wake[from] = make(chan struct{}, 1)
		local[from] = link.Endpoint{Outbox: func(to string) link.Outbox { return o.outs[[2]string{from, to}] }, Inbox: in}
	}
	if err := o.meshLoops.start(h, "hand-off", local, cfg.Link, cfg.Wrap, o.run); err != nil {
		return nil, err
	}
	return o, nil
}

// run offers region name's open hand-offs: each once when it opens, and
// again every Retry while it stays open (its outcome, or the offer, may
// have been lost with a process, or be held by a cut link). It looks after
// every applied batch of entries, and when woken by a new hand-off.
func (o *handOffs) run(ctx context.Context, name string, srv *server.Server) {
	offered := map[string]time.Time{} // hand-off id -> last offered
	for {
		idx := srv.AppliedIndex()
		if srv.IsLeader() {
			var open []state.HandOff
			srv.Read(func(st *state.Store) { open = st.OpenHandOffs("") })
			now := time.Now()
			keep := map[string]time.Time{}
			for _, h := range open {
				at, seen := offered[h.ID]
				if seen && now.Sub(at) < o.cfg.Retry {
					keep[h.ID] = at
					continue
				}
				if err := o.offer(h); err != nil {
					o.logger.Error("offer hand-off", "region", name, "id", h.ID, "error", err)
					continue
				}
				keep[h.ID] = now
			}
			offered = keep
		}
		wctx, cancel := context.WithTimeout(ctx, o.cfg.Retry/2)
		done := make(chan struct{})
		go func() {
			select {
			case <-o.wake[name]:
			case <-wctx.Done():
			}
			cancel()
			close(done)
		}()
		_ = srv.WaitIndex(wctx, idx+1)
		cancel()
		<-done
		if ctx.Err() != nil || o.h.isStopped(name) {
			return
		}
	}
}

// offer queues hand-off h on the link to its target and wakes the link.
func (o *handOffs) offer(h state.HandOff) error {
	body, err := h.MarshalMsg(nil)
	if err != nil {
		return err
	}
	out := o.outs[[2]string{h.FromRegion, h.ToRegion}]
	if out == nil {
		return fmt.Errorf("to_region: no link from %s to %s", h.FromRegion, h.ToRegion)
	}
	if out.add(link.Message{Kind: KindHandOffOffer, ID: h.ID, Body: body}) {
		out.offers.Add(1)
	}
	o.mesh.Notify(h.FromRegion, h.ToRegion)
	return nil
}

// answer queues the outcome of hand-off in (recorded by region to) on the
// link back to its source.
func (o *handOffs) answer(to string, in state.HandIn) error {
	c := command.HandOffClose{ID: in.ID, Accepted: in.Accepted, Reason: in.Reason}
	body, err := c.MarshalMsg(nil)
	if err != nil {
		return err
	}
	out := o.outs[[2]string{to, in.FromRegion}]
	if out.add(link.Message{Kind: KindHandOffOutcome, ID: in.ID, Body: body}) {
		out.outcomes.Add(1)
	}
	o.mesh.Notify(to, in.FromRegion)
	return nil
}

// poke wakes region name's offer loop.
func (o *handOffs) poke(name string) {
	select {
	case o.wake[name] <- struct{}{}:
	default:
	}
}

func (o *handOffs) status() []HandOffStatus {
	var out []HandOffStatus
	for _, ls := range o.mesh.Status() {
		ob := o.outs[[2]string{ls.From, ls.To}]
		f := o.inboxes[ls.To].from[ls.From]
		out = append(out, HandOffStatus{From: ls.From, To: ls.To, Link: ls,
			Offers: ob.offers.Load(), Outcomes: ob.outcomes.Load(),
			Accepted: f.accepted.Load(), Refused: f.refused.Load(), Duplicates: f.duplicates.Load(),
			Closed: f.closed.Load(), Stale: f.stale.Load(), Invalid: f.invalid.Load()})
	}
	return out
}

// HandOff hands queued jobs to shard toShard of another region (the
// reroute-to-another-region case): each job's region takes it out of
// placement into an open hand-off (its raft records it), offers it to the
// target region over their hand-off link, and closes it with the target's
// outcome, accepted (the job now lives in toShard) or refused (the job is
// queued where it was). Outcomes are per job, in input order: Applied with
// the hand-off id as Reason, or Rejected (unknown job, not queued, already
// handed, in toShard's own region). The call returns once every hand-off is
// open; the rest runs on its own, across partitions.
func (h *Host) HandOff(ctx context.Context, jobIDs []string, toShard string) ([]raftfsm.Outcome, error) {
	to := h.RegionOf(toShard)
	switch {
	case toShard == "":
		return nil, fmt.Errorf("%w: to_shard: empty", ErrInvalidConfig)
	case to == "":
		return nil, fmt.Errorf("%w: to_shard: no region holds shard %q (regions: %s)", ErrNoRegion, toShard, strings.Join(h.order, ", "))
	case h.ho == nil:
		return nil, fmt.Errorf("%w: to_shard: the host runs one region, there is nowhere to hand off to", ErrNoRegion)
	}
	outs := make([]raftfsm.Outcome, len(jobIDs))
	byRegion := map[string][]int{}
	for i, id := range jobIDs {
		// The job's region: the first other than the target's that holds
		// it (an id the target also holds is another job there), else the
		// target's own.
		from := ""
		for _, name := range append(slices.DeleteFunc(slices.Clone(h.order), func(r string) bool { return r == to }), to) {
			if h.isStopped(name) {
				continue
			}
			found := false
			h.servers[name].Read(func(st *state.Store) { found = st.Job(id) != nil })
			if found {
				from = name
				break
			}
		}
		switch from {
		case "":
			outs[i] = raftfsm.Outcome{ID: id, Status: raftfsm.Rejected, Reason: "unknown job"}
		case to:
			outs[i] = raftfsm.Outcome{ID: id, Status: raftfsm.Rejected, Reason: fmt.Sprintf("job is in region %s already: reroute it to %s", to, toShard)}
		default:
			byRegion[from] = append(byRegion[from], i)
		}
	}
	for _, from := range h.order {
		idx := byRegion[from]
		if len(idx) == 0 {
			continue
		}
		ids := make([]string, len(idx))
		for k, i := range idx {
			ids[k] = jobIDs[i]
		}
		res, err := h.servers[from].BeginHandOffs(ctx, handOffActor, command.HandOffBegin{
			Meta: command.Meta{Reason: "hand off to " + toShard}, FromRegion: from, ToRegion: to, ToShard: toShard, IDs: ids})
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", from, err)
		}
		for k, i := range idx {
			outs[i] = res[k]
		}
		h.ho.poke(from)
	}
	return outs, nil
}

// HandOffs returns the status of every hand-off link, by from then to;
// none for a host of one region.
func (h *Host) HandOffs() []HandOffStatus {
	if h.ho == nil {
		return nil
	}
	return h.ho.status()
}

// HandOffMesh returns the mesh of hand-off links (nil for one region).
func (h *Host) HandOffMesh() *link.Mesh {
	if h.ho == nil {
		return nil
	}
	return h.ho.mesh
}

// handOffOutbox is the outbox of one hand-off link, in memory: the offers
// and outcomes its region queued, each once while it waits or is in
// flight (queued again only after the receiver applied it). A message gets
// its seq when the link first takes it, the one after the last seq given,
// and keeps it until acknowledged; a receiver whose through is not the seq
// before the oldest one held (it restarted, or went back) gets them all
// again numbered from its through. Nothing here needs to outlive the
// process: what is open is in the region's raft, and the offer loop offers
// it again.
type handOffOutbox struct {
	mu               sync.Mutex
	queued           []link.Message // no seq yet
	sent             []link.Message // seqs sent.Seq.., not acknowledged
	next             uint64         // the seq after the last given
	held             map[[2]string]bool
	offers, outcomes atomic.Uint64
}

func newHandOffOutbox() *handOffOutbox { return &handOffOutbox{held: map[[2]string]bool{}} }

// add queues m unless a message of its kind and id waits or is in flight.
func (b *handOffOutbox) add(m link.Message) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{m.Kind, m.ID}
	if b.held[k] {
		return false
	}
	b.held[k] = true
	b.queued = append(b.queued, m)
	return true
}

// Pending returns the messages after the receiver's through: those in
// flight again, then queued ones under new seqs.
func (b *handOffOutbox) Pending(after uint64, max int) []link.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ack(after)
	if len(b.sent) > 0 && b.sent[0].Seq != after+1 {
		// The receiver is not where we left it: renumber from its through.
		b.queued = append(b.sent, b.queued...)
		b.sent = nil
	}
	if len(b.sent) == 0 {
		b.next = after + 1
	}
	for len(b.queued) > 0 && len(b.sent) < max {
		m := b.queued[0]
		b.queued = b.queued[1:]
		m.Seq = b.next
		b.next++
		b.sent = append(b.sent, m)
	}
	if len(b.sent) > max {
		return append([]link.Message(nil), b.sent[:max]...)
	}
	return append([]link.Message(nil), b.sent...)
}

// Acked drops what the receiver applied.
func (b *handOffOutbox) Acked(through uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ack(through)
}

func (b *handOffOutbox) ack(through uint64) {
	n := 0
	for n < len(b.sent) && b.sent[n].Seq <= through {
		delete(b.held, [2]string{b.sent[n].Kind, b.sent[n].ID})
		n++
	}
	b.sent = b.sent[n:]
}

// handOffInbox is one region's inbox of hand-off links: it takes offers
// into its raft (accept or refuse, then answers the outcome) and closes its
// own hand-offs with the outcomes that come back, each through its own
// server's endpoints. Its through per sender lives in memory: every step is
// idempotent by hand-off id in the raft log, so a lost through costs a
// repeat, never a second job.
type handOffInbox struct {
	o      *handOffs
	region string
	srv    *server.Server
	logger hclog.Logger
	from   map[string]*handOffFrom
}

type handOffFrom struct {
	mu                            sync.Mutex
	through                       uint64
	accepted, refused, duplicates atomic.Uint64
	closed, stale, invalid        atomic.Uint64
}

// Deliver applies the fresh messages from sender from, in order.
func (in *handOffInbox) Deliver(ctx context.Context, from string, msgs []link.Message) (uint64, error) {
	f, ok := in.from[from]
	if !ok {
		return 0, fmt.Errorf("%w: from: region %q has no hand-off link to %s", link.ErrUnknownRegion, from, in.region)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range link.Fresh(f.through, msgs) {
		var err error
		switch m.Kind {
		case KindHandOffOffer:
			err = in.offer(ctx, from, f, m)
		case KindHandOffOutcome:
			err = in.outcome(ctx, from, f, m)
		default:
			err = in.invalid(from, f, m, "kind", fmt.Errorf("kind %q is not a hand-off message", m.Kind))
		}
		if err != nil {
			return f.through, err
		}
		f.through = m.Seq
	}
	return f.through, nil
}

// invalid logs a message the region can never take and passes over it.
func (in *handOffInbox) invalid(from string, f *handOffFrom, m link.Message, field string, err error) error {
	f.invalid.Add(1)
	in.logger.Error("hand-off message refused", "from", from, "seq", m.Seq, "id", m.ID, "field", field, "error", err)
	return nil
}

// offer takes a hand-off into this region and answers its outcome: one it
// recorded already is answered from its record, without a raft entry.
func (in *handOffInbox) offer(ctx context.Context, from string, f *handOffFrom, m link.Message) error {
	var h state.HandOff
	if _, err := h.UnmarshalMsg(m.Body); err != nil {
		return in.invalid(from, f, m, "body", err)
	}
	if h.FromRegion != from || h.ToRegion != in.region || h.ID != m.ID {
		return in.invalid(from, f, m, "body", fmt.Errorf("hand-off %s from %s to %s on the link from %s to %s", h.ID, h.FromRegion, h.ToRegion, from, in.region))
	}
	rec, ok := in.handIn(h.ID)
	if ok {
		f.duplicates.Add(1)
	} else {
		o, err := in.srv.AcceptHandOff(ctx, handOffActor, h)
		var re *server.RequestError
		switch {
		case errors.As(err, &re):
			return in.invalid(from, f, m, re.Field, err)
		case errors.Is(err, raftfsm.ErrInvalid):
			return in.invalid(from, f, m, "body", err)
		case err != nil:
			return fmt.Errorf("region %s: accept hand-off %s: %w", in.region, h.ID, err)
		}
		switch o.Status {
		case raftfsm.Applied:
			f.accepted.Add(1)
		case raftfsm.Rejected:
			f.refused.Add(1)
		default:
			f.duplicates.Add(1)
		}
		if rec, ok = in.handIn(h.ID); !ok {
			return fmt.Errorf("region %s: hand-off %s: no record after its accept (%s)", in.region, h.ID, o.Status)
		}
	}
	return in.o.answer(in.region, rec)
}

func (in *handOffInbox) handIn(id string) (rec state.HandIn, ok bool) {
	in.srv.Read(func(st *state.Store) { rec, ok = st.HandIn(id) })
	return rec, ok
}

// outcome closes one of this region's hand-offs with its target's outcome;
// one closed already is stale and proposes nothing.
func (in *handOffInbox) outcome(ctx context.Context, from string, f *handOffFrom, m link.Message) error {
	var c command.HandOffClose
	if _, err := c.UnmarshalMsg(m.Body); err != nil {
		return in.invalid(from, f, m, "body", err)
	}
	var h state.HandOff
	var ok bool
	in.srv.Read(func(st *state.Store) { h, ok = st.HandOff(c.ID) })
	switch {
	case !ok || c.ID != m.ID:
		return in.invalid(from, f, m, "id", fmt.Errorf("no hand-off %q of region %s", c.ID, in.region))
	case h.ToRegion != from:
		return in.invalid(from, f, m, "id", fmt.Errorf("hand-off %s went to %s, its outcome came from %s", c.ID, h.ToRegion, from))
	case h.State != state.HandOffOpen:
		f.stale.Add(1)
		return nil
	}
	o, err := in.srv.CloseHandOff(ctx, handOffActor, command.HandOffClose{ID: c.ID, Accepted: c.Accepted, Reason: c.Reason})
	var re *server.RequestError
	switch {
	case errors.As(err, &re):
		return in.invalid(from, f, m, re.Field, err)
	case err != nil:
		return fmt.Errorf("region %s: close hand-off %s: %w", in.region, c.ID, err)
	case o.Status == raftfsm.Applied:
		f.closed.Add(1)
	default:
		f.stale.Add(1)
	}
	return nil
}

var (
	_ link.Outbox = (*handOffOutbox)(nil)
	_ link.Acker  = (*handOffOutbox)(nil)
	_ link.Inbox  = (*handOffInbox)(nil)
)
