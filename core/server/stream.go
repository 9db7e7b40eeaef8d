package server

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// ErrRevoked ends a control stream whose client identity was revoked.
var ErrRevoked = errors.New("server: client identity revoked")

// ControlRequest opens a client's control stream.
type ControlRequest struct {
	Client string
	// Index is the highest index the client saw on an earlier stream (0:
	// none). The caller waits until this server has applied it before it
	// opens the stream (WaitIndex), so a lagging follower never answers
	// from state older than what the client already acted on.
	Index uint64
	// Running are the attempts the client holds (dispatched, not finished)
	// that no stream has cancelled yet. The first frame cancels those that
	// are no longer current, so a cancellation made while the client was
	// away is delivered on its return.
	Running []command.JobAttempt
	// Accessor is the accessor id of the client identity the stream was
	// opened with ("" for a management token or an agent's own secret).
	// Its revocation ends the stream with a Revoked frame.
	Accessor string
}

// Cancel tells a client that one of its attempts is no longer current: it
// should stop running it. State is the job's state now ("collected" for a
// job no longer recorded).
type Cancel struct {
	JobID   string
	Attempt uint32
	State   string
}

// ControlBatch is one frame of a control stream, read from this server's
// applied state at Index.
type ControlBatch struct {
	Index uint64
	// Full is set on the first frame: Nodes then lists every node the
	// client hosts or may claim; later frames list only changed ones.
	Full bool
	// Assignments are attempts that became active on the client's nodes
	// and that this stream has not sent (on the first frame: every active
	// one the client does not already hold).
	Assignments []Assignment
	// Cancels are held or sent attempts that stopped being current other
	// than by completing, each sent once per stream.
	Cancels []Cancel
	// Nodes are records (immutable) of nodes the client hosts or that no
	// client hosts, new or changed since the previous frame.
	Nodes []*state.Node
	// Gone are ids of nodes listed on an earlier frame that the client may
	// no longer serve: deregistered, or hosted by another client.
	Gone []string
	// Revoked is set on the last frame of a stream whose identity was
	// revoked.
	Revoked bool
}

func (b *ControlBatch) empty() bool {
	return len(b.Assignments) == 0 && len(b.Cancels) == 0 && len(b.Nodes) == 0 && len(b.Gone) == 0 && !b.Revoked
}

// heldAttempt is an attempt a control stream knows the client holds.
type heldAttempt struct {
	id      string
	attempt uint32
}

// Control streams a client's control plane to fn until ctx ends, fn fails
// or the client's identity is revoked (ErrRevoked, after a frame with
// Revoked set): the assignments of its nodes, the cancellation of every
// attempt it holds that stops being current, and the changes of the nodes
// it hosts or may claim. The first frame is always sent; later ones when
// something changed. Every frame is derived from this server's applied FSM
// state at the frame's Index, never from a volatile channel, so any server
// serves it, and a client that reconnects with the index it last saw and
// the attempts it still holds misses no cancellation and gets none twice.
// It wakes on applied entries, not by polling.
func (s *Server) Control(ctx context.Context, req ControlRequest, fn func(*ControlBatch) error) error {
	var (
		seen  *state.Store // the store the assignment cursor belongs to
		after uint64
		// hosted are the client's nodes at the last wake: a node claimed
		// since is read from its start.
		hosted = map[string]bool{}
		// held are the attempts the client holds, by job seq.
		held = map[uint64]heldAttempt{}
		// listed are the nodes sent, at the record last sent, and the wake
		// that last saw them relevant.
		listed = map[string]listedNode{}
		wake   uint64
		first  = true
	)
	for {
		ch := s.changes()
		wake++
		b := ControlBatch{Full: first}
		s.fsm.Read(func(st *state.Store) {
			b.Index = st.AppliedIndex()
			if req.Accessor != "" {
				if t, ok := st.Token(req.Accessor); !ok || t.RevokedAt != 0 {
					b.Revoked = true
					return
				}
			}
			if first {
				for _, r := range req.Running {
					j := st.Job(r.JobID)
					if j == nil {
						b.Cancels = append(b.Cancels, Cancel{JobID: r.JobID, Attempt: r.Attempt, State: "collected"})
						continue
					}
					held[j.Seq] = heldAttempt{id: j.ID, attempt: r.Attempt}
				}
			}
			if st != seen {
				seen, after = st, 0
				clear(hosted)
			}
			pol := st.Policy()
			for _, n := range st.Nodes() {
				mine := n.Client == req.Client
				if mine || (n.Client == "" && n.Status != state.NodeRetired) {
					if l, ok := listed[n.ID]; !ok || l.n != n {
						b.Nodes = append(b.Nodes, n)
					}
					listed[n.ID] = listedNode{n: n, wake: wake}
				}
				if !mine {
					delete(hosted, n.ID)
					continue
				}
				from := after
				if !hosted[n.ID] {
					hosted[n.ID], from = true, 0
				}
				st.AssignedSince(n.ID, from, func(j *state.Job) {
					if h, ok := held[j.Seq]; ok && h.attempt == j.Attempt {
						return // the client holds it already
					}
					held[j.Seq] = heldAttempt{id: j.ID, attempt: j.Attempt}
					b.Assignments = append(b.Assignments, Assignment{
						JobID: j.ID, Attempt: j.Attempt, Node: j.Node, Kind: j.Kind, Payload: j.Payload,
						Capabilities: j.Capabilities, Seed: AttemptSeed(pol.MissionSeed, j.ID, j.Attempt), QuoteMu: j.QuoteMu,
					})
				})
			}
			after = st.AssignGen()
			for id, l := range listed {
				if l.wake != wake {
					b.Gone = append(b.Gone, id)
					delete(listed, id)
				}
			}
			sort.Strings(b.Gone)
			var ended []uint64
			for seq, h := range held {
				if c, done := heldEnded(st, req.Client, seq, h); done {
					ended = append(ended, seq)
					if c != nil {
						b.Cancels = append(b.Cancels, *c)
					}
				}
			}
			for _, seq := range ended {
				delete(held, seq)
			}
		})
		if first || !b.empty() {
			slices.SortFunc(b.Cancels, func(x, y Cancel) int {
				if c := strings.Compare(x.JobID, y.JobID); c != 0 {
					return c
				}
				return int(x.Attempt) - int(y.Attempt)
			})
			if err := fn(&b); err != nil {
				return err
			}
		}
		if b.Revoked {
			return ErrRevoked
		}
		first = false
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.shutdownCtx.Done():
			return ErrShutdown
		}
	}
}

type listedNode struct {
	n    *state.Node
	wake uint64
}

// heldEnded reports whether a held attempt is no longer current, and the
// cancellation to send for it: none when the attempt completed (its own
// result was accepted). An attempt is current while its job is Assigned or
// Running at that attempt on a node the client hosts.
func heldEnded(st *state.Store, client string, seq uint64, h heldAttempt) (*Cancel, bool) {
	j := st.JobBySeq(seq)
	if j == nil {
		return &Cancel{JobID: h.id, Attempt: h.attempt, State: "collected"}, true
	}
	if j.Attempt == h.attempt {
		switch j.State {
		case state.JobAssigned, state.JobRunning:
			if n := st.Node(j.Node); n != nil && n.Client == client {
				return nil, false
			}
		case state.JobCompleted:
			return nil, true
		}
	}
	return &Cancel{JobID: h.id, Attempt: h.attempt, State: j.State.String()}, true
}
