package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Config configures the HTTP API.
type Config struct {
	Backend Backend
	Logger  hclog.Logger
	// AllowAnonymousRead lets requests without a token use read routes.
	AllowAnonymousRead bool
	// DisableACL treats every request as management (agent config
	// `acl { enabled = false }`).
	DisableACL bool
	// MaxBodyBytes bounds JSON request bodies (413 beyond).
	MaxBodyBytes int64
	// MaxSnapshotBytes bounds a snapshot restore upload.
	MaxSnapshotBytes int64
	// MaxEventWait bounds ?wait= of GET /v1/events and of blocking queries.
	MaxEventWait time.Duration
	// StreamKeepAlive is how often an idle assignment or control stream
	// sends a keep-alive.
	StreamKeepAlive time.Duration
	// ControlCatchUp bounds how long a control stream waits for this
	// server to apply the index its client saw (503 beyond).
	ControlCatchUp time.Duration
	// Registry receives the API's metrics; New makes one when nil.
	Registry *prometheus.Registry

	// LeaderAPI, when set, returns the leader's API base URL ("" when not
	// known): a follower then forwards writes and consistent reads to it
	// (a reverse proxy keeping the caller's token). Without it a follower
	// answers them 503 naming the leader's raft address.
	LeaderAPI func() string
	// PeerTLS is the TLS config for calls to other servers' APIs
	// (forwarding, member status); nil for plain HTTP.
	PeerTLS *tls.Config
	// Transport, when set, replaces the transport built from PeerTLS.
	Transport http.RoundTripper
	// AgentSecret, when set, is a secret known only to the process serving
	// this API (the agent): a request bearing it acts as management on
	// this server. It is never replicated, so another server (the leader
	// a follower forwards to) does not accept it.
	AgentSecret string
}

// DefaultConfig returns the defaults; set Backend.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:     8 << 20,
		MaxSnapshotBytes: 8 << 30,
		MaxEventWait:     5 * time.Minute,
		StreamKeepAlive:  15 * time.Second,
		ControlCatchUp:   10 * time.Second,
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Backend == nil {
		return ErrNoBackend
	}
	if c.MaxBodyBytes <= 0 || c.MaxSnapshotBytes <= 0 || c.MaxEventWait <= 0 || c.StreamKeepAlive <= 0 || c.ControlCatchUp <= 0 {
		return fmt.Errorf("api: limits must be positive: %w", ErrBadConfig)
	}
	return nil
}

// HTTP serves the /v1 API.
type HTTP struct {
	cfg     Config
	b       Backend
	log     hclog.Logger
	mux     *http.ServeMux
	metrics *metrics

	transportOnce sync.Once
	transport     http.RoundTripper
}

// New builds the API handler.
func New(cfg Config) (*HTTP, error) {
	def := DefaultConfig()
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = def.MaxBodyBytes
	}
	if cfg.MaxSnapshotBytes == 0 {
		cfg.MaxSnapshotBytes = def.MaxSnapshotBytes
	}
	if cfg.MaxEventWait == 0 {
		cfg.MaxEventWait = def.MaxEventWait
	}
	if cfg.StreamKeepAlive == 0 {
		cfg.StreamKeepAlive = def.StreamKeepAlive
	}
	if cfg.ControlCatchUp == 0 {
		cfg.ControlCatchUp = def.ControlCatchUp
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	h := &HTTP{cfg: cfg, b: cfg.Backend, log: cfg.Logger.Named("http"), mux: http.NewServeMux()}
	m, err := newMetrics(cfg.Registry, cfg.Backend)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	h.routes()
	return h, nil
}

// Handler returns the http.Handler serving /v1.
func (h *HTTP) Handler() http.Handler { return h }

// ServeHTTP implements http.Handler.
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	h.mux.ServeHTTP(sw, r)
	h.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
		"duration", time.Since(start))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// access is what a route requires.
type access uint8

const (
	accessOpen access = iota // no token needed
	accessRead
	accessSubmit
	accessManagement
	// accessClient: the client protocol; a management token or the
	// client's own identity (for its own client name only).
	accessClient
	// accessJoin: POST /v1/client/join; a management token, a client join
	// credential or the client's identity.
	accessJoin
	accessWrite = accessManagement // alias used for owner routes
)

// identity is the resolved caller of a request.
type identity struct {
	Type     state.TokenType
	Name     string
	Accessor string
}

// client is the client name a client identity speaks for ("" for any
// other caller).
func (id identity) client() string {
	if id.Type == state.TokenClientIdentity {
		return id.Name
	}
	return ""
}

func (id identity) actor() string {
	switch {
	case id.Name != "" && id.Accessor != "":
		return id.Name + "/" + id.Accessor
	case id.Accessor != "":
		return id.Accessor
	case id.Name != "":
		return id.Name
	}
	return "anonymous"
}

type ctxKey struct{}

func caller(r *http.Request) identity {
	id, _ := r.Context().Value(ctxKey{}).(identity)
	return id
}

// secretOf returns the token secret of a request.
func secretOf(r *http.Request) string {
	if s := r.Header.Get(TokenHeader); s != "" {
		return s
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// HashSecret returns the hex sha256 of a secret, as stored in raft.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// authorize resolves the caller and checks it against need. It reads only
// local state: a refused call never proposes anything.
func (h *HTTP) authorize(r *http.Request, need access) (identity, *apiError) {
	if h.cfg.DisableACL {
		return identity{Type: state.TokenManagement, Name: "anonymous"}, nil
	}
	secret := secretOf(r)
	id := identity{Type: state.TokenNone}
	switch {
	case secret == "":
	case h.cfg.AgentSecret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(h.cfg.AgentSecret)) == 1:
		id = identity{Type: state.TokenManagement, Name: "agent"}
	default:
		hash := HashSecret(secret)
		var tok *state.Token
		h.b.Read(func(s *state.Store) {
			if t, ok := s.TokenByHash(hash); ok {
				tok = &t
			}
		})
		if tok == nil {
			return id, &apiError{status: http.StatusUnauthorized, msg: "ACL token not found"}
		}
		if tok.RevokedAt != 0 {
			return id, &apiError{status: http.StatusUnauthorized,
				msg: fmt.Sprintf("client identity of %s was revoked", tok.Name)}
		}
		id = identity{Type: tok.Type, Name: tok.Name, Accessor: tok.AccessorID}
	}
	if need == accessOpen {
		return id, nil
	}
	if id.Type == state.TokenNone {
		if need == accessRead && h.cfg.AllowAnonymousRead {
			return identity{Type: state.TokenRead, Name: "anonymous"}, nil
		}
		return id, &apiError{status: http.StatusUnauthorized, msg: "ACL token required"}
	}
	if id.Type == state.TokenManagement {
		return id, nil
	}
	denied := func(want string) *apiError {
		return &apiError{status: http.StatusForbidden,
			msg: fmt.Sprintf("permission denied: %s token, route needs %s", id.Type, want)}
	}
	switch need {
	case accessClient:
		if id.Type != state.TokenClientIdentity {
			return id, denied("a client identity or management")
		}
		return id, nil
	case accessJoin:
		if id.Type != state.TokenClient && id.Type != state.TokenClientIdentity {
			return id, denied("a client join credential or management")
		}
		return id, nil
	}
	// Operator routes: read < submit < management. A client identity may
	// read; a join credential grants nothing.
	rank := id.Type
	switch id.Type {
	case state.TokenClient:
		rank = state.TokenNone
	case state.TokenClientIdentity:
		rank = state.TokenRead
	}
	var want state.TokenType
	switch need {
	case accessRead:
		want = state.TokenRead
	case accessSubmit:
		want = state.TokenSubmit
	default:
		want = state.TokenManagement
	}
	if rank < want {
		return id, denied(want.String())
	}
	return id, nil
}

// checkClient refuses a client protocol request that names no client, and
// a client identity that speaks for another client than its own.
func checkClient(r *http.Request, client string) error {
	if client == "" {
		return badRequest("client", "client is required")
	}
	if own := caller(r).client(); own != "" && own != client {
		return &apiError{status: http.StatusForbidden,
			msg: fmt.Sprintf("permission denied: the identity of client %s cannot act for client %s", own, client)}
	}
	return nil
}

// apiError is an error answer.
type apiError struct {
	status int
	msg    string
	field  string
	path   string
	leader string
	diags  []Diagnostic
}

func (e *apiError) Error() string { return e.msg }

func badRequest(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// handlerFunc is a route body; it returns the value to encode as JSON (nil
// when it wrote the response itself) or an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

// handle registers a route with its access level. Mutating routes
// (write=true) refuse on a follower before doing anything.
func (h *HTTP) handle(pattern string, need access, write bool, fn handlerFunc) {
	mode := modeOf(pattern, write)
	// Health reports the start-up replay itself; status/self is how
	// servers find each other's addresses while any of them starts.
	waitsForReplay := pattern != "GET /v1/health" && pattern != "GET /v1/status/self"
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		// Until the FSM has replayed the raft log it holds neither every
		// token nor every job it acknowledged: answer 503 with the
		// progress rather than a 401 or a partial read.
		if err := h.b.Readiness().Error(); err != nil {
			if waitsForReplay {
				w.Header().Set("Retry-After", "1")
				h.writeError(w, err)
				return
			}
			// Open routes answer without looking at a token the FSM
			// may not hold yet.
			out, err := fn(w, r)
			switch {
			case err != nil:
				h.writeError(w, err)
			case out != nil:
				writeJSON(w, http.StatusOK, out)
			}
			return
		}
		stale := mode == modeRead && isStale(r)
		if mode != modeLocal && !stale && !h.b.IsLeader() {
			// The leader authorizes forwarded requests against its own
			// (current) tokens.
			if h.forward(w, r) {
				return
			}
			if _, aerr := h.authorize(r, need); aerr != nil {
				h.writeError(w, aerr)
				return
			}
			h.writeError(w, h.noLeader())
			return
		}
		id, aerr := h.authorize(r, need)
		if aerr != nil {
			h.writeError(w, aerr)
			return
		}
		if mode == modeWrite {
			// Handlers check requests against local state before
			// proposing: wait until a new leader has applied every
			// earlier entry.
			if err := h.b.WaitReady(r.Context()); err != nil {
				h.writeError(w, err)
				return
			}
		}
		blocking := blocks(pattern)
		if blocking {
			if err := h.blockingQuery(r); err != nil {
				h.writeError(w, err)
				return
			}
		}
		if mode == modeRead && !stale {
			// Read barrier: confirm leadership and apply everything
			// committed before this request, so the read is linearizable.
			if err := h.b.ConsistentRead(r.Context(), func(*state.Store) {}); err != nil {
				h.writeError(w, err)
				return
			}
		}
		if blocking {
			h.setIndex(w)
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		out, err := fn(w, r)
		if err != nil {
			h.writeError(w, err)
			return
		}
		if out != nil {
			writeJSON(w, http.StatusOK, out)
		}
	})
}

func (h *HTTP) noLeader() *apiError {
	addr, _ := h.b.Leader()
	msg := "not the leader"
	if addr == "" {
		msg = "no leader"
	}
	return &apiError{status: http.StatusServiceUnavailable, msg: msg, leader: addr}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// writeError translates errors to status codes at the edge.
func (h *HTTP) writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	var re *server.RequestError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &re):
		ae = &apiError{status: requestStatus[re.Kind], field: re.Field, path: re.Path, msg: re.Msg}
	case errors.Is(err, server.ErrNotLeader):
		ae = h.noLeader()
	case errors.Is(err, server.ErrShutdown), errors.Is(err, server.ErrStarting),
		errors.Is(err, server.ErrHalted), errors.Is(err, server.ErrCommandVersion):
		ae = &apiError{status: http.StatusServiceUnavailable, msg: err.Error()}
	case errors.Is(err, server.ErrDiskFull), errors.Is(err, syscall.ENOSPC):
		ae = &apiError{status: http.StatusInsufficientStorage, msg: err.Error()}
	case errors.Is(err, server.ErrPathNotAllowed):
		ae = &apiError{status: http.StatusForbidden, msg: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		ae = &apiError{status: http.StatusServiceUnavailable, msg: err.Error()}
	default:
		ae = &apiError{status: http.StatusConflict, msg: err.Error()}
	}
	if ae.status >= 500 {
		h.log.Warn("request failed", "status", ae.status, "error", ae.msg)
	}
	writeJSON(w, ae.status, ErrorBody{Error: ae.msg, Field: ae.field, Path: ae.path, Leader: ae.leader, Diagnostics: ae.diags})
}

// requestStatus is the status code of each kind of endpoint refusal.
var requestStatus = map[server.ErrorKind]int{
	server.Invalid:   http.StatusBadRequest,
	server.NotFound:  http.StatusNotFound,
	server.Conflict:  http.StatusConflict,
	server.Forbidden: http.StatusForbidden,
}

// decode reads a JSON body bounded by MaxBodyBytes into v. Unknown fields
// are refused, naming the field, and so is anything after the JSON value.
func (h *HTTP) decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	return decodeBody(r.Body, v)
}

// decodeBody decodes exactly one JSON value from body into v.
func decodeBody(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, "")
	}
	return noTrailing(dec)
}

// noTrailing refuses anything but white space after the body's JSON value:
// `[a][b]` is one bad request, not a request for a.
func noTrailing(dec *json.Decoder) error {
	end := dec.InputOffset()
	_, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return decodeError(err, "")
	}
	return badRequest("", "trailing data after the JSON value that ends at offset %d", end)
}

// decodeError translates a JSON decoding error; prefix names the item being
// decoded ("jobs[3]") and is put before field names.
func decodeError(err error, prefix string) error {
	field := func(f string) string {
		switch {
		case prefix == "":
			return f
		case f == "":
			return prefix
		}
		return prefix + "." + f
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF) && prefix == "":
		return badRequest("", "empty request body")
	case errors.As(err, &ute):
		f := field(ute.Field)
		return badRequest(f, "field %s: cannot use JSON %s as %s", f, ute.Value, ute.Type)
	case errors.As(err, &se):
		return badRequest(prefix, "malformed JSON at offset %d: %v", se.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := field(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		return badRequest(f, "unknown field %q", f)
	}
	return badRequest(prefix, "bad request body: %v", err)
}

// actor is the caller of a request as the server's endpoints see it: its
// name and the capabilities its token grants.
func actor(r *http.Request) server.Actor {
	id := caller(r)
	a := server.Actor{Name: id.actor()}
	switch id.Type {
	case state.TokenManagement:
		a.Caps = server.CapAll
	case state.TokenSubmit:
		a.Caps = server.CapRead | server.CapSubmit
	case state.TokenRead:
		a.Caps = server.CapRead
	case state.TokenClientIdentity:
		a.Caps = server.CapRead | server.CapClient | server.CapJoin
	case state.TokenClient:
		a.Caps = server.CapJoin
	}
	return a
}

// written is the answer of a write endpoint.
func written(res server.Result, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return WriteResult{Index: res.Index}, nil
}

// body says whether a route's request body may be empty.
type body bool

const (
	bodyRequired body = false
	bodyOptional body = true
)

// endpoint adapts a call of a server endpoint to a route: decode the body
// into a Req, call, answer the entry's index.
func endpoint[Req any](h *HTTP, b body, call func(r *http.Request, req Req) (server.Result, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req Req
		decode := h.decode
		if b == bodyOptional {
			decode = h.decodeOptional
		}
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		return written(call(r, req))
	}
}

// reason is the Meta of an owner request: the caller's reason; the
// endpoint stamps the time and the actor.
func reason(text string) command.Meta { return command.Meta{Reason: text} }

// Authorize checks r's credential on this handler's server as a route of
// management access (manage) or read access would: 0 and "" when it may
// proceed, else the status and message its refusal answers. A handler
// beside the API (a region host's front) uses it for routes of its own.
func (h *HTTP) Authorize(r *http.Request, manage bool) (int, string) {
	need := accessRead
	if manage {
		need = accessManagement
	}
	if _, err := h.authorize(r, need); err != nil {
		return err.status, err.msg
	}
	return 0, ""
}
