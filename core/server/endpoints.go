package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/planetary/planetary/core/validate"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// The endpoint layer: one method per operation (RegisterShard, RetireNode,
// CancelJobs, ...), in endpoints_*.go. Each builds its command from a typed
// request, and call runs the steps every endpoint shares, once: the
// caller's capability, the stamp (time, actor, reason), the endpoint's
// checks against the applied state, the proposal through Apply and the
// endpoint's metrics. The HTTP API decodes, calls and encodes; the owner
// schedule (leader.go) runs an entry's command through the same checks
// (checkScheduled). See docs/architecture.md, "Endpoints".

// Capability is what an endpoint asks of its caller, a set of bits.
type Capability uint8

const (
	CapRead Capability = 1 << iota
	CapSubmit
	// CapManage: owner commands (a management token, the schedule).
	CapManage
	// CapClient: the client protocol (a client identity or management).
	CapClient
	// CapJoin: a client's join (a client join credential).
	CapJoin
)

// CapAll is every capability (a management token, the agent itself).
const CapAll = CapRead | CapSubmit | CapManage | CapClient | CapJoin

// Actor is who calls an endpoint: the name recorded as the command's
// Meta.Actor and the capabilities its credential grants.
type Actor struct {
	Name string
	Caps Capability
}

// ErrorKind says how a request was refused; the HTTP API maps it to a
// status code.
type ErrorKind uint8

const (
	// Invalid: a value breaks a rule (400).
	Invalid ErrorKind = iota + 1
	// NotFound: the request names something that does not exist (404).
	NotFound
	// Conflict: the request contradicts the state (409).
	Conflict
	// Forbidden: the caller may not do this, or a path lies outside the
	// allowed roots (403).
	Forbidden
)

// RequestError is an endpoint's refusal of a request, decided before
// anything is proposed: what kind, the request field it concerns ("" for
// the request as a whole) and, for a path, the path.
type RequestError struct {
	Kind  ErrorKind
	Field string
	Path  string
	Msg   string
}

func (e *RequestError) Error() string { return e.Msg }

func refusal(kind ErrorKind, field, format string, args ...any) *RequestError {
	return &RequestError{Kind: kind, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *RequestError {
	return refusal(Invalid, field, format, args...)
}

// asRequestError turns a rule's refusal (*validate.Error) into an Invalid
// RequestError; other errors pass unchanged.
func asRequestError(err error) error {
	var ve *validate.Error
	if errors.As(err, &ve) {
		return &RequestError{Kind: Invalid, Field: ve.Field, Msg: ve.Msg}
	}
	return err
}

// Result is what a write endpoint returns: the raft index of its entry.
type Result struct {
	Index uint64
}

// endpoint is one row of the endpoint table: the operation's name (the
// command registry's name for an owner command), the command type it
// proposes and the capabilities it admits (any one of them; none: open).
// check validates a command against the applied state; the HTTP path and
// the owner schedule both run it.
type endpoint struct {
	name  string
	typ   command.MessageType
	need  Capability
	check func(s *Server, st *state.Store, c command.Command) error
	// due, when set, is the endpoint's follow-up: what the leader proposes
	// on its own once the state asks for it (a drain whose deadline passed
	// is forced), read by followUpLoop with the time now (Server.Now).
	due func(st *state.Store, now int64) []command.Command
}

// table holds every endpoint row: row adds it as its package variable is
// initialized, and init orders the table by command type, then name.
var table []*endpoint

func init() {
	sort.SliceStable(table, func(i, j int) bool {
		if table[i].typ != table[j].typ {
			return table[i].typ < table[j].typ
		}
		return table[i].name < table[j].name
	})
}

// endpoints is the endpoint table: every write endpoint, in command type
// order.
func endpoints() []*endpoint { return table }

// row builds the endpoint row of command type t with a typed check, and
// enters it in the table.
func row[C any, PC interface {
	*C
	command.Command
}](name string, t command.MessageType, need Capability, check func(s *Server, st *state.Store, c PC) error) *endpoint {
	ep := &endpoint{name: name, typ: t, need: need,
		check: func(s *Server, st *state.Store, c command.Command) error { return check(s, st, c.(PC)) }}
	table = append(table, ep)
	return ep
}

// followUp sets the endpoint's follow-up (endpoint.due).
func (ep *endpoint) followUp(due func(st *state.Store, now int64) []command.Command) *endpoint {
	ep.due = due
	return ep
}

// Command runs an owner command through its endpoint: the generic entry of
// the described commands (raftfsm/command, params.go), whose HTTP routes
// and CLI are derived from their registry rows. The command's Meta.Reason
// is the caller's reason.
func (s *Server) Command(ctx context.Context, a Actor, c command.Command) (Result, error) {
	t, ok := command.TypeOf(c)
	if !ok {
		return Result{}, fmt.Errorf("server: %T is not a command of the registry", c)
	}
	ep, ok := endpointByType(t)
	if !ok {
		spec, _ := command.Lookup(t)
		return Result{}, fmt.Errorf("server: %s has no owner endpoint", spec.Name)
	}
	reason := ""
	if m := command.MetaOf(c); m != nil {
		reason = m.Reason
	}
	return s.call(ctx, a, ep, reason, c)
}

// endpointStats counts one endpoint's calls by outcome.
type endpointStats struct {
	ok, refused, failed atomic.Uint64
}

// endpointMetrics exports the per-endpoint counters.
type endpointMetrics struct {
	s    *Server
	desc *prometheus.Desc
}

func (m endpointMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

func (m endpointMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, ep := range endpoints() {
		st := m.s.epStats[ep.name]
		for _, o := range []struct {
			name string
			n    *atomic.Uint64
		}{{"ok", &st.ok}, {"refused", &st.refused}, {"failed", &st.failed}} {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(o.n.Load()), ep.name, o.name)
		}
	}
}

func newEndpointStats() map[string]*endpointStats {
	out := map[string]*endpointStats{}
	for _, ep := range endpoints() {
		out[ep.name] = &endpointStats{}
	}
	return out
}

// endpointByType returns the owner endpoint proposing command type t.
func endpointByType(t command.MessageType) (*endpoint, bool) {
	for _, ep := range endpoints() {
		if ep.typ == t && ep.need == CapManage {
			return ep, true
		}
	}
	return nil, false
}

// call is the one path of every endpoint that proposes a command:
// capability, stamp, check, proposal, metrics. reason is the caller's
// (recorded in Meta).
func (s *Server) call(ctx context.Context, a Actor, ep *endpoint, reason string, c command.Command) (Result, error) {
	if m := command.MetaOf(c); m != nil {
		*m = command.Meta{Time: s.Now(), Actor: a.Name, Reason: reason}
	}
	var res Result
	err := s.run(a, ep, func(st *state.Store) error { return ep.check(s, st, c) }, func() error {
		resp, err := s.Apply(ctx, ep.typ, c)
		if err == nil {
			res.Index = resp.Index
		}
		return err
	})
	return res, err
}

// run is the frame of every endpoint: the caller's capability, check on a
// read of the applied state, then do, each outcome counted.
func (s *Server) run(a Actor, ep *endpoint, check func(st *state.Store) error, do func() error) error {
	stats := s.epStats[ep.name]
	err := s.admit(a, ep)
	if err == nil {
		s.fsm.Read(func(st *state.Store) { err = check(st) })
	}
	if err != nil {
		stats.refused.Add(1)
		return asRequestError(err)
	}
	if err := do(); err != nil {
		stats.failed.Add(1)
		return err
	}
	stats.ok.Add(1)
	return nil
}

// admit checks the caller's capability (any of the endpoint's; an
// endpoint that needs none is open) and the leadership.
func (s *Server) admit(a Actor, ep *endpoint) error {
	if ep.need != 0 && a.Caps&ep.need == 0 {
		return refusal(Forbidden, "", "permission denied: %s needs %s", ep.name, ep.need)
	}
	if !s.IsLeader() {
		return ErrNotLeader
	}
	return nil
}

// checkScheduled runs the checks of the owner endpoint of command type t
// over the schedule entry's body (the command's msgpack), as an HTTP call
// of the same command would: a scheduled command is validated exactly as
// a called one.
func (s *Server) checkScheduled(st *state.Store, t command.MessageType, body []byte) error {
	ep, ok := endpointByType(t)
	if !ok {
		return nil
	}
	spec, ok := command.Lookup(t)
	if !ok {
		return fmt.Errorf("server: no command row for type %d", t)
	}
	c := spec.New()
	if _, err := c.UnmarshalMsg(body); err != nil {
		return fmt.Errorf("server: scheduled %s: %w", spec.Name, err)
	}
	return asRequestError(ep.check(s, st, c))
}

func (c Capability) String() string {
	switch c {
	case CapRead:
		return "read"
	case CapSubmit:
		return "submit"
	case CapManage:
		return "management"
	case CapClient:
		return "a client identity"
	case CapJoin:
		return "a client join credential"
	}
	return fmt.Sprintf("capability(%d)", uint8(c))
}

// ---- state checks shared by endpoints

func requireShard(st *state.Store, field, name string) error {
	if name == "" {
		return invalid(field, "%s is required", field)
	}
	if st.Shard(name) == nil {
		return refusal(NotFound, field, "shard %q not found", name)
	}
	return nil
}

func requireNode(st *state.Store, field, id string) error {
	if st.Node(id) == nil {
		return refusal(NotFound, field, "node %q not found", id)
	}
	return nil
}
