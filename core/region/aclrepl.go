package region

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/link"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/state"
)

// KindACLToken is the link message kind of an ACL token replicated from
// the host's ACL region; its body is the msgpack state.Token as the ACL
// region holds it (the sha256 of the secret, never the secret) and its ID
// the token's accessor id.
const KindACLToken = "acl.token"

// DefaultACLRegion is the region that holds the ACL tokens when the
// mission has it and Config.ACLRegion names none.
const DefaultACLRegion = "earth"

// ACLConfig configures the links that replicate the ACL region's tokens to
// every other region of the host: one directed link from the ACL region to
// each other region, in process (core/link's Local transport).
type ACLConfig struct {
	// Link is the template of every ACL link's config (request timeout,
	// backoff, keep-alive); the host sets From, To, Outbox, Transport and
	// Logger.
	Link link.Config
	// Wrap, when set, wraps the transport of the link from the ACL region
	// to region to: fault injection (return a link.Faulty and keep it).
	Wrap func(from, to string, t link.Transport) link.Transport
	// Recheck bounds how long the ACL region's replicator waits for an
	// applied entry before it reads its tokens again (default
	// DefaultRecheck): it catches what wakes no apply, such as a
	// leadership change.
	Recheck time.Duration
}

// ACLStatus is one ACL link as the host sees it: the link's own status and
// what went through it.
type ACLStatus struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Link is the link's status (state, backlog, RTT, failures).
	Link link.Status `json:"link"`
	// Offered counts the token records the ACL region put in the link's
	// outbox: one per token and one more per revocation, and every token
	// once again after a host restart.
	Offered uint64 `json:"offered"`
	// Stored counts the records To's raft applied, Duplicates those To
	// already held (by accessor id, refused before proposing), Refused
	// those To could not take (another kind, an undecodable body, a record
	// in conflict with a token To holds).
	Stored     uint64 `json:"stored"`
	Duplicates uint64 `json:"duplicates"`
	Refused    uint64 `json:"refused"`
}

// aclReplicator carries every token of the ACL region to every other
// region and stores what each receives.
type aclReplicator struct {
	h       *Host
	cfg     ACLConfig
	from    string // the ACL region
	logger  hclog.Logger
	out     *link.Memory
	links   map[string]*link.Link // by receiving region
	inboxes map[string]*aclInbox  // by receiving region
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	offered map[string]bool   // accessor -> revoked, as put in the outboxes
	counts  map[string]uint64 // to -> records offered
}

// startACL builds the ACL links of h, from its ACL region to each other
// region, starts them and the loop that offers them the ACL region's
// tokens. A host of one region replicates nothing.
func startACL(h *Host) (*aclReplicator, error) {
	if len(h.order) < 2 {
		return nil, nil
	}
	cfg := h.cfg.ACL
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	r := &aclReplicator{
		h: h, cfg: cfg, from: h.acl, logger: h.cfg.Logger.Named("acl"),
		out: link.NewMemory(), links: map[string]*link.Link{}, inboxes: map[string]*aclInbox{},
		offered: map[string]bool{}, counts: map[string]uint64{},
	}
	local := link.NewLocal()
	for _, to := range h.order {
		if to == r.from {
			continue
		}
		in := &aclInbox{region: to, from: r.from, srv: h.servers[to], logger: r.logger.With("region", to)}
		r.inboxes[to] = in
		local.Add(to, in)
	}
	for _, to := range h.order {
		if to == r.from {
			continue
		}
		var t link.Transport = local
		if cfg.Wrap != nil {
			t = cfg.Wrap(r.from, to, t)
		}
		lc := cfg.Link
		if lc.Logger == nil {
			lc.Logger = h.cfg.Logger
		}
		lc.From, lc.To, lc.Outbox, lc.Transport = r.from, to, r.out.Outbox(to), t
		l, err := link.New(lc)
		if err != nil {
			return nil, fmt.Errorf("region: ACL link to %s: %w", to, err)
		}
		r.links[to] = l
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for _, l := range r.links {
		l.Start()
	}
	r.wg.Add(1)
	go r.run(ctx, h.servers[r.from])
	return r, nil
}

// stop ends the replicating loop and the links, and waits for them.
func (r *aclReplicator) stop() {
	r.cancel()
	r.wg.Wait()
	for _, l := range r.links {
		l.Stop()
	}
}

// run offers the links every token of the ACL region they have not been
// offered, after each batch of applied entries: a new token, and a client
// identity revoked since it was offered. Only the leader offers.
func (r *aclReplicator) run(ctx context.Context, srv *server.Server) {
	defer r.wg.Done()
	for {
		idx := srv.AppliedIndex()
		if srv.IsLeader() {
			r.offer(srv)
		}
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Recheck)
		err := srv.WaitIndex(wctx, idx+1)
		cancel()
		if ctx.Err() != nil || r.h.isStopped(r.from) {
			return
		}
		_ = err // the recheck is due: read the tokens again
	}
}

// offer appends to every outbox the token records not offered yet, in the
// order the ACL region created them (its bootstrap token first), and wakes
// the links.
func (r *aclReplicator) offer(srv *server.Server) {
	var toks []state.Token
	srv.Read(func(st *state.Store) { toks = st.Tokens() })
	r.mu.Lock()
	defer r.mu.Unlock()
	var drafts []link.Message
	var keys []state.Token
	// Tokens sorts by accessor id, which breaks the ties.
	slices.SortStableFunc(toks, func(a, b state.Token) int { return cmp.Compare(a.CreatedAt, b.CreatedAt) })
	for _, t := range toks {
		revoked := t.RevokedAt != 0
		if was, ok := r.offered[t.AccessorID]; ok && (was || !revoked) {
			continue
		}
		body, err := t.MarshalMsg(nil)
		if err != nil {
			r.logger.Error("encode token", "accessor", t.AccessorID, "error", err)
			continue
		}
		drafts = append(drafts, link.Message{Kind: KindACLToken, ID: t.AccessorID, Body: body})
		keys = append(keys, t)
	}
	if len(drafts) == 0 {
		return
	}
	for to, l := range r.links {
		if _, err := r.out.Append(to, drafts...); err != nil {
			// Append checks every draft before it appends any, and the
			// checks do not depend on the receiver: no outbox took them.
			r.logger.Error("offer tokens", "to", to, "error", err)
			return
		}
		r.counts[to] += uint64(len(drafts))
		l.Notify()
	}
	for _, t := range keys {
		r.offered[t.AccessorID] = t.RevokedAt != 0
	}
}

// status returns every ACL link's status, by receiving region.
func (r *aclReplicator) status() []ACLStatus {
	var out []ACLStatus
	for _, to := range r.h.order {
		l := r.links[to]
		if l == nil {
			continue
		}
		in := r.inboxes[to]
		s := ACLStatus{From: r.from, To: to, Link: l.Status(),
			Stored: in.stored.Load(), Duplicates: in.duplicates.Load(), Refused: in.refused.Load()}
		r.mu.Lock()
		s.Offered = r.counts[to]
		r.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// ACLRegion is the region that holds the host's ACL tokens: every ACL write
// through the front goes to it, and its tokens are replicated to the
// other regions.
func (h *Host) ACLRegion() string { return h.acl }

// ACLReplication returns the status of every ACL link, from the ACL region
// to each other region in declaration order; none for a host of one region.
func (h *Host) ACLReplication() []ACLStatus {
	if h.aclr == nil {
		return nil
	}
	return h.aclr.status()
}

// ACLLink returns the ACL link from the ACL region to region to, nil for
// none.
func (h *Host) ACLLink(to string) *link.Link {
	if h.aclr == nil {
		return nil
	}
	return h.aclr.links[to]
}

// aclInbox is a region's inbox of the ACL link from the ACL region: it
// stores each token record through its server's StoreReplicatedToken (raft
// commands of the receiving region only, proposed on its own leader) and
// keeps the sender's through in memory. The through only spares the
// receiver's raft a duplicate: what decides whether a record is news is
// the token table, which is replicated, so the records the ACL region
// offers again after a host restart are duplicates, refused before
// proposing.
type aclInbox struct {
	region string
	from   string
	srv    *server.Server
	logger hclog.Logger

	mu                          sync.Mutex // held while a batch is applied
	through                     uint64
	stored, duplicates, refused atomic.Uint64
}

// Deliver stores the token records of msgs that follow the through, in
// order, and returns the new through. A record the region can never take
// is refused, logged and passed over; a failure to store (the server shut
// down, not the leader, a timeout) ends the batch with an error, and the
// link sends it again.
func (in *aclInbox) Deliver(ctx context.Context, from string, msgs []link.Message) (uint64, error) {
	if from != in.from {
		return 0, fmt.Errorf("%w: from: region %q is not the ACL region %s", link.ErrUnknownRegion, from, in.from)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, m := range link.Fresh(in.through, msgs) {
		if err := in.apply(ctx, m); err != nil {
			return in.through, err
		}
		in.through = m.Seq
	}
	return in.through, nil
}

// apply stores one message's token record.
func (in *aclInbox) apply(ctx context.Context, m link.Message) error {
	refuse := func(field string, err error) error {
		in.refused.Add(1)
		in.logger.Error("token refused", "from", in.from, "seq", m.Seq, "accessor", m.ID, "field", field, "error", err)
		return nil
	}
	if m.Kind != KindACLToken {
		return refuse("kind", fmt.Errorf("kind %q, want %q", m.Kind, KindACLToken))
	}
	var tok state.Token
	if _, err := tok.UnmarshalMsg(m.Body); err != nil {
		return refuse("body", err)
	}
	if tok.AccessorID != m.ID {
		return refuse("id", fmt.Errorf("message %q carries accessor %q", m.ID, tok.AccessorID))
	}
	st, err := in.srv.StoreReplicatedToken(ctx, in.from, tok)
	var re *server.RequestError
	switch {
	case errors.As(err, &re):
		return refuse(re.Field, err)
	case errors.Is(err, raftfsm.ErrInvalid), errors.Is(err, raftfsm.ErrClientJoined), errors.Is(err, raftfsm.ErrClientRevoked),
		errors.Is(err, raftfsm.ErrUnknownClient):
		return refuse("token", err)
	case err != nil:
		return fmt.Errorf("region %s: store token %s of %s: %w", in.region, tok.AccessorID, in.from, err)
	}
	if st == raftfsm.Duplicate {
		in.duplicates.Add(1)
	} else {
		in.stored.Add(1)
	}
	return nil
}

var _ link.Inbox = (*aclInbox)(nil)
