package region

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

// KindCheckpoint is the link message kind of a region's ledger checkpoint;
// its body is the msgpack state.RegionCheckpoint.
const KindCheckpoint = "ledger.checkpoint"

// DefaultRecheck is how long a region's publisher waits for an applied
// entry before it looks at its checkpoint again anyway.
const DefaultRecheck = 5 * time.Second

// PublishConfig configures how the host's regions publish their ledger
// checkpoints to each other: one directed link per ordered pair of
// regions, in process (a core/link Mesh over its Local transport).
type PublishConfig struct {
	// Link is the template of every checkpoint link's config (request
	// timeout, backoff, keep-alive); the host sets From, To, Outbox,
	// Transport and Logger.
	Link link.Config
	// Wrap, when set, wraps the transport of the link from one region to
	// another: fault injection (return a link.Faulty and keep it to set
	// its latency and partitions).
	Wrap func(from, to string, t link.Transport) link.Transport
	// Recheck bounds how long a region's publisher waits for an applied
	// entry before it reads its checkpoint again (default DefaultRecheck):
	// it catches what wakes no apply, such as a leadership change.
	Recheck time.Duration
}

// PublishStatus is one directed checkpoint link as the host sees it: the
// link's own status and what went through it.
type PublishStatus struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Link is the link's status (state, backlog, RTT, failures).
	Link link.Status `json:"link"`
	// Offered counts the checkpoints From offered the link, one per change
	// batch; Coalesced those replaced by a newer one before they were sent;
	// Handed the messages the link took from its outbox (a retransmission,
	// which carries the latest checkpoint, is not one more); Acked those To
	// acknowledged.
	Offered   uint64 `json:"offered"`
	Coalesced uint64 `json:"coalesced"`
	Handed    uint64 `json:"handed"`
	Acked     uint64 `json:"acked"`
	// Stored counts the checkpoints To's raft applied, Duplicates those To
	// refused as not newer than the one it holds (before proposing them
	// when its applied state shows it, else by its FSM), Refused the messages To
	// could not take (an unknown kind, an undecodable body, another
	// region's checkpoint, an invalid one).
	Stored     uint64 `json:"stored"`
	Duplicates uint64 `json:"duplicates"`
	Refused    uint64 `json:"refused"`
	// StoredIndex is the raft index, in From's log, of the last checkpoint
	// To stored.
	StoredIndex uint64 `json:"stored_index"`
}

// publisher publishes every region's checkpoint to every other region and
// stores what each receives.
type publisher struct {
	h      *Host
	cfg    PublishConfig
	logger hclog.Logger
	meshLoops
	outs    map[[2]string]*checkpointOutbox // (from, to)
	inboxes map[string]*checkpointInbox     // by receiving region
}

// startPublisher builds the checkpoint mesh of h's regions, starts its
// links and one publishing loop per region. A host of one region publishes
// nothing and gets no publisher.
func startPublisher(h *Host) (*publisher, error) {
	if len(h.order) < 2 {
		return nil, nil
	}
	cfg := h.cfg.Publish
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	p := &publisher{
		h: h, cfg: cfg, logger: h.cfg.Logger.Named("publish"),
		outs: map[[2]string]*checkpointOutbox{}, inboxes: map[string]*checkpointInbox{},
	}
	local := map[string]link.Endpoint{}
	for _, from := range h.order {
		in := &checkpointInbox{region: from, srv: h.servers[from], logger: p.logger.With("region", from), from: map[string]*inboxFrom{}}
		for _, to := range h.order {
			if to == from {
				continue
			}
			p.outs[[2]string{from, to}] = &checkpointOutbox{}
			in.from[to] = &inboxFrom{}
		}
		p.inboxes[from] = in
		local[from] = link.Endpoint{
			Outbox: func(to string) link.Outbox { return p.outs[[2]string{from, to}] },
			Inbox:  in,
		}
	}
	if err := p.meshLoops.start(h, "checkpoint", local, cfg.Link, cfg.Wrap, p.run); err != nil {
		return nil, err
	}
	return p, nil
}

// run publishes region name's checkpoint whenever it changes: it reads the
// checkpoint after each batch of applied entries (every entry applied since
// the last read is in it, so a burst of entries is one checkpoint) and
// offers it to every link out of the region when anything but its raft
// index changed. Storing another region's checkpoint changes nothing but
// the index, so two regions never echo each other's checkpoints.
func (p *publisher) run(ctx context.Context, name string, srv *server.Server) {
	var last state.RegionCheckpoint
	published := false
	for {
		idx := srv.AppliedIndex()
		if srv.IsLeader() {
			cp := srv.RegionCheckpoint()
			if !published || changed(last, cp) {
				if err := p.offer(name, cp); err != nil {
					p.logger.Error("encode checkpoint", "region", name, "raft_index", cp.RaftIndex, "error", err)
				} else {
					last, published = cp, true
				}
			}
		}
		wctx, cancel := context.WithTimeout(ctx, p.cfg.Recheck)
		err := srv.WaitIndex(wctx, idx+1)
		cancel()
		if ctx.Err() != nil || p.h.isStopped(name) {
			return
		}
		_ = err // the recheck is due: read the checkpoint again
	}
}

// changed reports whether b differs from a in anything but its raft index.
func changed(a, b state.RegionCheckpoint) bool {
	a.RaftIndex, b.RaftIndex = 0, 0
	return !reflect.DeepEqual(a, b)
}

// offer hands cp to every outbox of its region and wakes their links.
func (p *publisher) offer(from string, cp state.RegionCheckpoint) error {
	body, err := cp.MarshalMsg(nil)
	if err != nil {
		return err
	}
	for _, to := range p.h.order {
		if to == from {
			continue
		}
		p.outs[[2]string{from, to}].offer(cp.RaftIndex, body)
		p.mesh.Notify(from, to)
	}
	return nil
}

// status returns every checkpoint link's status, by from then to.
func (p *publisher) status() []PublishStatus {
	var out []PublishStatus
	for _, ls := range p.mesh.Status() {
		o := p.outs[[2]string{ls.From, ls.To}]
		f := p.inboxes[ls.To].from[ls.From]
		s := PublishStatus{From: ls.From, To: ls.To, Link: ls}
		o.mu.Lock()
		s.Offered, s.Coalesced, s.Handed, s.Acked = o.counts.offered, o.counts.coalesced, o.counts.handed, o.counts.acked
		o.mu.Unlock()
		s.Stored, s.Duplicates, s.Refused = f.stored.Load(), f.duplicates.Load(), f.refused.Load()
		s.StoredIndex = f.storedIndex.Load()
		out = append(out, s)
	}
	return out
}

// Publishing returns the status of every checkpoint link between the
// host's regions, by from then to; none for a host of one region.
func (h *Host) Publishing() []PublishStatus {
	if h.pub == nil {
		return nil
	}
	return h.pub.status()
}

// Mesh returns the mesh of checkpoint links (nil for a host of one region),
// for its Status and Collector.
func (h *Host) Mesh() *link.Mesh {
	if h.pub == nil {
		return nil
	}
	return h.pub.mesh
}

// checkpointOutbox is the outbox of one checkpoint link: it holds only the
// latest checkpoint its region offered, and at most one message, the one
// the link has in flight. A message gets its seq when the link takes it,
// the one after the receiver's through, so the seqs stay gapless however
// many checkpoints were coalesced; a checkpoint offered while one is in
// flight waits, replaced by any newer one, until the receiver acknowledges
// the one in flight. A retransmission carries the latest checkpoint under
// the seq of the try it repeats: if the receiver had applied the older one
// (its answer lost), the newer one follows under the next seq once the
// acknowledgement comes, and if it had applied none, the newer one is the
// only one sent. Either way the latest reaches the receiver, at the cost of
// at most one checkpoint the receiver refuses as a duplicate.
type checkpointOutbox struct {
	mu       sync.Mutex
	latest   []byte // the latest checkpoint offered, encoded
	latestIx uint64 // its raft index
	ackedIx  uint64 // raft index up to which the receiver holds a checkpoint
	ackedSeq uint64 // seq of the last message acknowledged
	inflight bool   // sent is out and not acknowledged
	sent     link.Message
	sentIx   uint64 // raft index of the checkpoint sent carries now
	sentMin  uint64 // lowest raft index sent has carried
	counts   struct{ offered, coalesced, handed, acked uint64 }
}

// offer makes cp, at raft index ix, the latest checkpoint.
func (o *checkpointOutbox) offer(ix uint64, body []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ix <= o.latestIx {
		return
	}
	o.counts.offered++
	if o.latest != nil && o.latestIx > o.ackedIx && (!o.inflight || o.latestIx > o.sentIx) {
		o.counts.coalesced++ // the previous latest was never sent
	}
	o.latest, o.latestIx = body, ix
}

// Pending returns the message the link is to send after the receiver's
// through: the one in flight again (with the latest checkpoint), or the
// latest checkpoint under a new seq, or nothing when the receiver holds it.
func (o *checkpointOutbox) Pending(after uint64, _ int) []link.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	if after < o.ackedSeq {
		// The receiver's through went back (its link state is newer than
		// ours): it may not hold what it acknowledged; send the latest.
		o.ackedIx, o.ackedSeq = 0, after
	}
	if o.inflight {
		switch {
		case o.sent.Seq <= after:
			o.ack()
		case o.sent.Seq == after+1:
			if o.latestIx > o.sentIx {
				o.sent.Body, o.sent.ID, o.sentIx = o.latest, checkpointID(o.latestIx), o.latestIx
			}
			return []link.Message{o.sent}
		default: // the receiver is behind the message in flight
			o.inflight = false
		}
	}
	if o.latest == nil || o.latestIx <= o.ackedIx {
		return nil
	}
	o.sent = link.Message{Seq: after + 1, Kind: KindCheckpoint, ID: checkpointID(o.latestIx), Body: o.latest}
	o.sentIx, o.sentMin, o.inflight = o.latestIx, o.latestIx, true
	o.counts.handed++
	return []link.Message{o.sent}
}

// Acked records that the receiver applied through seq through.
func (o *checkpointOutbox) Acked(through uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inflight && through >= o.sent.Seq {
		o.ack()
	}
}

// ack records the message in flight as applied: the receiver holds at
// least the oldest checkpoint that message carried.
func (o *checkpointOutbox) ack() {
	o.ackedIx, o.ackedSeq, o.inflight = o.sentMin, o.sent.Seq, false
	o.counts.acked++
}

func checkpointID(ix uint64) string { return "raft-index-" + strconv.FormatUint(ix, 10) }

// checkpointInbox is one region's inbox of checkpoint links: it stores each
// checkpoint it receives through its server's StoreRegionCheckpoint (a raft
// command of the receiving region only) and keeps each sender's through in
// memory. The through only spares the receiver's raft a duplicate: what
// decides whether a checkpoint is news is the raft index of the stored one,
// which is replicated, so a through lost with the process costs at most one
// checkpoint refused as a duplicate.
type checkpointInbox struct {
	region string
	srv    *server.Server
	logger hclog.Logger
	from   map[string]*inboxFrom // fixed at start: the other regions
}

// inboxFrom is what an inbox holds of one sender.
type inboxFrom struct {
	mu                          sync.Mutex // held while a batch of that sender is applied
	through                     uint64
	stored, duplicates, refused atomic.Uint64
	storedIndex                 atomic.Uint64
}

// Deliver stores the checkpoints of msgs that follow from's through, in
// order, and returns the new through. A message the region can never take
// is refused, logged and passed over; a failure to store (the server shut
// down, not the leader, a timeout) ends the batch with an error, and the
// link sends it again.
func (in *checkpointInbox) Deliver(ctx context.Context, from string, msgs []link.Message) (uint64, error) {
	f, ok := in.from[from]
	if !ok {
		return 0, fmt.Errorf("%w: from: region %q does not publish to %s", link.ErrUnknownRegion, from, in.region)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range link.Fresh(f.through, msgs) {
		if err := in.apply(ctx, from, f, m); err != nil {
			return f.through, err
		}
		f.through = m.Seq
	}
	return f.through, nil
}

// apply stores one message's checkpoint.
func (in *checkpointInbox) apply(ctx context.Context, from string, f *inboxFrom, m link.Message) error {
	refuse := func(field string, err error) error {
		f.refused.Add(1)
		in.logger.Error("checkpoint refused", "from", from, "seq", m.Seq, "field", field, "error", err)
		return nil
	}
	if m.Kind != KindCheckpoint {
		return refuse("kind", fmt.Errorf("kind %q, want %q", m.Kind, KindCheckpoint))
	}
	var cp state.RegionCheckpoint
	if _, err := cp.UnmarshalMsg(m.Body); err != nil {
		return refuse("body", err)
	}
	if cp.Region != from {
		return refuse("region", fmt.Errorf("checkpoint of region %q on the link from %q", cp.Region, from))
	}
	// A checkpoint the region already holds (or a newer one) is refused
	// here, without a raft entry; one that races past this read is refused
	// by the FSM.
	var have state.RegionCheckpoint
	var ok bool
	in.srv.Read(func(st *state.Store) { have, ok = st.RegionCheckpoint(from) })
	if ok && cp.RaftIndex <= have.RaftIndex {
		f.duplicates.Add(1)
		return nil
	}
	out, err := in.srv.StoreRegionCheckpoint(ctx, cp)
	var re *server.RequestError
	switch {
	case errors.As(err, &re):
		return refuse(re.Field, err)
	case errors.Is(err, raftfsm.ErrInvalid):
		return refuse("checkpoint", err)
	case err != nil:
		return fmt.Errorf("region %s: store the checkpoint of %s at raft index %d: %w", in.region, from, cp.RaftIndex, err)
	}
	switch out.Status {
	case raftfsm.Applied:
		f.stored.Add(1)
		f.storedIndex.Store(cp.RaftIndex)
	case raftfsm.Duplicate:
		f.duplicates.Add(1)
	default:
		return refuse("checkpoint", fmt.Errorf("outcome %s: %s", out.Status, out.Reason))
	}
	return nil
}

var (
	_ link.Outbox = (*checkpointOutbox)(nil)
	_ link.Acker  = (*checkpointOutbox)(nil)
	_ link.Inbox  = (*checkpointInbox)(nil)
)
