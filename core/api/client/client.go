package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/planetary/planetary/core/tlsutil"
)

// DefaultAddress is the API address used when neither the config nor
// PLANETARY_ADDR names one.
const DefaultAddress = "http://127.0.0.1:4646"

// Environment variables read by DefaultClientConfig.
const (
	EnvAddress = "PLANETARY_ADDR"
	EnvToken   = "PLANETARY_TOKEN"
	// EnvRegion names the region a client's requests are for
	// (ClientConfig.Region).
	EnvRegion = "PLANETARY_REGION"
)

// TokenHeader carries the ACL secret.
const TokenHeader = "X-Planetary-Token"

// IndexHeader carries the raft index a read answered at. A blocking query
// sends it back as ?index=: the answer then waits until the FSM applies a
// later entry (or ?wait= passes) before it is computed.
const IndexHeader = "X-Planetary-Index"

// RegionHeader names the region a request is for and, on an answer of a
// region host's front (core/region), the region that answered.
const RegionHeader = "X-Planetary-Region"

// IdentityFile is where a client agent keeps its identity, in its data dir.
const IdentityFile = "client-identity.json"

// Error is a non-2xx answer of the API.
type Error struct {
	Status  int
	Message string
	Field   string
	Path    string
	// Leader is the leader's address on a 503 from a non-leader, when known.
	Leader      string
	Diagnostics []Diagnostic
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "api: %d: %s", e.Status, e.Message)
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	if e.Leader != "" {
		fmt.Fprintf(&b, " (leader %s)", e.Leader)
	}
	for _, d := range e.Diagnostics {
		fmt.Fprintf(&b, "\n%s:%d,%d: %s", d.File, d.Line, d.Col, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(&b, "; %s", d.Detail)
		}
	}
	return b.String()
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// Address is the base URL of an agent's HTTP API, e.g. http://127.0.0.1:4646.
	Address string
	// Token is the ACL secret sent with every request.
	Token string
	// HTTPClient defaults to a client without an overall timeout (event
	// waits and assignment streams are long).
	HTTPClient *http.Client
	// TLS is the mutual TLS config (core/tlsutil.Load) of the default
	// HTTPClient. When nil, PLANETARY_CACERT, PLANETARY_CLIENT_CERT and
	// PLANETARY_CLIENT_KEY are read. With TLS an address without a scheme
	// means https.
	TLS *tls.Config
	// Stale adds ?stale=true to reads: any server answers from its own
	// state, which may lag the leader's.
	Stale bool
	// Region, when set, is sent as RegionHeader with every request: a
	// region host's front (core/region) then answers from that region.
	Region string
	// LeaderWait is how long a call answered 503 "no leader" (refused
	// before anything was proposed: an election is under way) is retried
	// before the error is returned; 0 means DefaultLeaderWait, negative
	// none.
	LeaderWait time.Duration
}

// DefaultLeaderWait is ClientConfig.LeaderWait's default: about a few
// elections of raft's default timeouts.
const DefaultLeaderWait = 5 * time.Second

// DefaultClientConfig reads PLANETARY_ADDR, PLANETARY_TOKEN and
// PLANETARY_REGION.
func DefaultClientConfig() ClientConfig {
	cfg := ClientConfig{Address: os.Getenv(EnvAddress), Token: os.Getenv(EnvToken), Region: os.Getenv(EnvRegion)}
	if cfg.Address == "" {
		cfg.Address = DefaultAddress
	}
	return cfg
}

// Client is a typed client of the /v1 API.
type Client struct {
	base   string
	token  string
	hc     *http.Client
	stale  bool
	region string
	// leaderWait is ClientConfig.LeaderWait (0: none).
	leaderWait time.Duration
	// compact is set once the server answered an assignment stream in
	// MsgpackType; result batches then use it too.
	compact atomic.Bool
}

// NewClient returns a client. Empty Address, Token and Region fall back to
// the environment (PLANETARY_ADDR, PLANETARY_TOKEN, PLANETARY_REGION) and
// then DefaultAddress.
func NewClient(cfg ClientConfig) (*Client, error) {
	def := DefaultClientConfig()
	if cfg.Address == "" {
		cfg.Address = def.Address
	}
	if cfg.Token == "" {
		cfg.Token = def.Token
	}
	if cfg.Region == "" {
		cfg.Region = def.Region
	}
	tlsCfg := cfg.TLS
	if tlsCfg == nil && cfg.HTTPClient == nil {
		t, err := tlsutil.Load(tlsutil.FromEnv())
		if err != nil {
			return nil, fmt.Errorf("api: TLS from environment: %w", err)
		}
		tlsCfg = t
	}
	if !strings.Contains(cfg.Address, "://") {
		if tlsCfg != nil {
			cfg.Address = "https://" + cfg.Address
		} else {
			cfg.Address = "http://" + cfg.Address
		}
	}
	u, err := url.Parse(cfg.Address)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("api: bad address %q: %w", cfg.Address, ErrBadAddress)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
		if tlsCfg != nil {
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = tlsCfg
			hc.Transport = t
		}
	}
	wait := cfg.LeaderWait
	switch {
	case wait == 0:
		wait = DefaultLeaderWait
	case wait < 0:
		wait = 0
	}
	return &Client{base: strings.TrimRight(cfg.Address, "/"), token: cfg.Token, hc: hc, stale: cfg.Stale, region: cfg.Region,
		leaderWait: wait}, nil
}

// Address returns the base URL the client talks to.
func (c *Client) Address() string { return c.base }

// SetToken changes the ACL secret used for later requests.
func (c *Client) SetToken(token string) { c.token = token }

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u := c.base + path
	if c.stale && method == http.MethodGet && !q.Has("stale") {
		q2 := url.Values{"stale": {"true"}}
		for k, v := range q {
			q2[k] = v
		}
		q = q2
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set(TokenHeader, c.token)
	}
	if c.region != "" {
		req.Header.Set(RegionHeader, c.region)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends a request and returns the response when it is 2xx; otherwise it
// decodes the error body into *Error.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb ErrorBody
	apiErr := &Error{Status: resp.StatusCode}
	if json.Unmarshal(raw, &eb) == nil && eb.Error != "" {
		apiErr.Message, apiErr.Field, apiErr.Path, apiErr.Leader, apiErr.Diagnostics =
			eb.Error, eb.Field, eb.Path, eb.Leader, eb.Diagnostics
	} else {
		apiErr.Message = strings.TrimSpace(string(raw))
		if apiErr.Message == "" {
			apiErr.Message = http.StatusText(resp.StatusCode)
		}
	}
	return nil, apiErr
}

// call sends in (JSON, when not nil) and decodes the answer into out (when
// not nil).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			return fmt.Errorf("api: encode %s: %w", path, err)
		}
	}
	resp, err := c.send(ctx, method, path, q, b, in != nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("api: decode %s: %w", path, err)
	}
	return nil
}

// send sends one request, again while the answer is 503 "no leader" (the
// server refused it before proposing anything: an election is under way),
// for up to leaderWait.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, b []byte, hasBody bool) (*http.Response, error) {
	deadline := time.Now().Add(c.leaderWait)
	pause := 25 * time.Millisecond
	for {
		var body io.Reader
		if hasBody {
			body = bytes.NewReader(b)
		}
		req, err := c.newRequest(ctx, method, path, q, body)
		if err != nil {
			return nil, err
		}
		resp, err := c.do(req)
		var ae *Error
		if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Message != "no leader" ||
			time.Now().Add(pause).After(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

func esc(s string) string { return url.PathEscape(s) }

// Health returns the serving agent's health. A server still replaying its
// raft log answers 503 with its health (Status "starting"), which Health
// returns without an error.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var out Health
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/health", nil, nil)
	if err != nil {
		return out, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return out, fmt.Errorf("api: GET /v1/health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(raw, &out) == nil && out.Status == "starting" {
			return out, nil
		}
		return Health{}, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return out, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("api: decode /v1/health: %w", err)
	}
	return out, nil
}

// Leader returns the raft leader's address and id.
func (c *Client) Leader(ctx context.Context) (LeaderInfo, error) {
	return get[LeaderInfo](ctx, c, "/v1/status/leader")
}

// Peers returns the raft configuration.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	return get[[]Peer](ctx, c, "/v1/status/peers")
}

// Metrics returns the Prometheus text exposition.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/metrics", nil, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("api: read metrics: %w", err)
	}
	return string(b), nil
}

// ACLBootstrap creates the first management token and returns its secret.
func (c *Client) ACLBootstrap(ctx context.Context) (Token, error) {
	var out Token
	return out, c.call(ctx, http.MethodPost, "/v1/acl/bootstrap", nil, struct{}{}, &out)
}

// CreateToken creates a read, submit or management token.
func (c *Client) CreateToken(ctx context.Context, name, typ string) (Token, error) {
	var out Token
	return out, c.call(ctx, http.MethodPost, "/v1/acl/tokens", nil, TokenRequest{Name: name, Type: typ}, &out)
}

// Tokens lists tokens (without secrets).
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	return get[[]Token](ctx, c, "/v1/acl/tokens")
}

// Mission returns the applied mission's policy.
func (c *Client) Mission(ctx context.Context) (Mission, error) {
	return get[Mission](ctx, c, "/v1/mission")
}

// ApplyMission parses and applies a mission file's text.
func (c *Client) ApplyMission(ctx context.Context, filename string, hcl []byte, reason string) (MissionApplied, error) {
	var out MissionApplied
	in := MissionApply{Filename: filename, HCL: string(hcl), Reason: reason}
	return out, c.call(ctx, http.MethodPut, "/v1/mission", nil, in, &out)
}

// SubmitJobs submits a batch; results are in input order.
func (c *Client) SubmitJobs(ctx context.Context, jobs []JobSubmit) ([]SubmitResult, error) {
	var out []SubmitResult
	return out, c.call(ctx, http.MethodPost, "/v1/jobs", nil, jobs, &out)
}

// Jobs lists jobs in submit order.
func (c *Client) Jobs(ctx context.Context, q JobQuery) (JobList, error) {
	v := url.Values{}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Shard != "" {
		v.Set("shard", q.Shard)
	}
	if q.Node != "" {
		v.Set("node", q.Node)
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out JobList
	return out, c.call(ctx, http.MethodGet, "/v1/jobs", v, nil, &out)
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	return get[Job](ctx, c, "/v1/job/"+esc(id))
}

// CancelJob cancels one job.
func (c *Client) CancelJob(ctx context.Context, id, reason string) (WriteResult, error) {
	return c.post(ctx, "/v1/job/"+esc(id)+"/cancel", OwnerRequest{Reason: reason})
}

// RerouteJob moves one job to another shard.
func (c *Client) RerouteJob(ctx context.Context, id, shard, reason string) (WriteResult, error) {
	return c.post(ctx, "/v1/job/"+esc(id)+"/reroute", RerouteRequest{Shard: shard, Reason: reason})
}

// CancelLocator cancels the jobs a locator selects.
func (c *Client) CancelLocator(ctx context.Context, loc Locator) (WriteResult, error) {
	return c.post(ctx, "/v1/jobs/cancel", loc)
}

// RerouteLocator moves the jobs a locator selects to loc.Target.
func (c *Client) RerouteLocator(ctx context.Context, loc Locator) (WriteResult, error) {
	return c.post(ctx, "/v1/jobs/reroute", loc)
}

// Shards lists shards.
func (c *Client) Shards(ctx context.Context) ([]Shard, error) {
	return get[[]Shard](ctx, c, "/v1/shards")
}

// Shard returns one shard.
func (c *Client) Shard(ctx context.Context, name string) (Shard, error) {
	return get[Shard](ctx, c, "/v1/shard/"+esc(name))
}

// RegisterShard adds a shard.
func (c *Client) RegisterShard(ctx context.Context, s Shard) (WriteResult, error) {
	return c.post(ctx, "/v1/shards", s)
}

// UpdateShard retunes a shard.
func (c *Client) UpdateShard(ctx context.Context, name string, u ShardUpdate) (WriteResult, error) {
	return c.post(ctx, "/v1/shard/"+esc(name)+"/update", u)
}

// DeregisterShard removes a shard.
func (c *Client) DeregisterShard(ctx context.Context, name string, d ShardDeregister) (WriteResult, error) {
	return c.post(ctx, "/v1/shard/"+esc(name)+"/deregister", d)
}

// Nodes lists nodes.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	return get[[]Node](ctx, c, "/v1/nodes")
}

// Node returns one node.
func (c *Client) Node(ctx context.Context, id string) (Node, error) {
	return get[Node](ctx, c, "/v1/node/"+esc(id))
}

// RegisterNode adds a node.
func (c *Client) RegisterNode(ctx context.Context, n Node) (WriteResult, error) {
	return c.post(ctx, "/v1/nodes", n)
}

// UpdateNode changes a node.
func (c *Client) UpdateNode(ctx context.Context, id string, u NodeUpdate) (WriteResult, error) {
	return c.post(ctx, "/v1/node/"+esc(id)+"/update", u)
}

// RetireNode drains a node.
func (c *Client) RetireNode(ctx context.Context, id string, r NodeRetire) (WriteResult, error) {
	return c.post(ctx, "/v1/node/"+esc(id)+"/retire", r)
}

// Pause pauses dispatching for the system (shard "") or one shard.
func (c *Client) Pause(ctx context.Context, shard, reason string) (WriteResult, error) {
	return c.post(ctx, "/v1/operator/pause", PauseRequest{Shard: shard, Reason: reason})
}

// Resume resumes dispatching for the system (shard "") or one shard.
func (c *Client) Resume(ctx context.Context, shard, reason string) (WriteResult, error) {
	return c.post(ctx, "/v1/operator/resume", PauseRequest{Shard: shard, Reason: reason})
}

// ConfigureCheckpoint retargets checkpoint cadence and path.
func (c *Client) ConfigureCheckpoint(ctx context.Context, cfg CheckpointConfig) (WriteResult, error) {
	return c.post(ctx, "/v1/operator/checkpoint", cfg)
}

// SaveCheckpoint takes a checkpoint now.
func (c *Client) SaveCheckpoint(ctx context.Context) (Snapshot, error) {
	var out Snapshot
	return out, c.call(ctx, http.MethodPost, "/v1/operator/checkpoint/save", nil, struct{}{}, &out)
}

// GC runs a garbage collection pass now and says what it collected.
func (c *Client) GC(ctx context.Context, req GCRequest) (GCResult, error) {
	var out GCResult
	return out, c.call(ctx, http.MethodPost, "/v1/operator/gc", nil, req, &out)
}

// ConfigureReporting retargets report output.
func (c *Client) ConfigureReporting(ctx context.Context, cfg ReportingConfig) (WriteResult, error) {
	return c.post(ctx, "/v1/operator/reporting", cfg)
}

// SnapshotSave downloads a snapshot archive into w.
func (c *Client) SnapshotSave(ctx context.Context, w io.Writer) (int64, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/operator/snapshot", nil, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("api: snapshot download: %w", err)
	}
	return n, nil
}

// SnapshotRestore uploads an archive and restores the fabric from it.
func (c *Client) SnapshotRestore(ctx context.Context, r io.Reader) error {
	req, err := c.newRequest(ctx, http.MethodPut, "/v1/operator/snapshot", nil, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// Ledger returns the ledger and invariant checks.
func (c *Client) Ledger(ctx context.Context) (Ledger, error) {
	return get[Ledger](ctx, c, "/v1/ledger")
}

// EventRetention returns the event retention policy of the server that
// answers and what it has pruned.
func (c *Client) EventRetention(ctx context.Context) (EventRetention, error) {
	return get[EventRetention](ctx, c, "/v1/events/retention")
}

// Events returns events with seq > index, waiting up to wait for one to
// appear; typ filters by event type when set (several types separated by
// commas); limit 0 is the server default. It asks for the page in
// MsgpackType and reads JSON from a server that answers in it.
func (c *Client) Events(ctx context.Context, index uint64, wait time.Duration, typ string, limit int) (Events, error) {
	v := url.Values{}
	v.Set("index", strconv.FormatUint(index, 10))
	if wait > 0 {
		v.Set("wait", wait.String())
	}
	if typ != "" {
		v.Set("type", typ)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return c.events(ctx, v)
}

// JobEvents returns the events of job id with seq > index, one page of the
// log scanned: the answer's Index is where to go on, and a page with no
// event of the job still advances it. It waits up to wait for an event of
// the job when the scan reaches the head.
func (c *Client) JobEvents(ctx context.Context, id string, index uint64, wait time.Duration) (Events, error) {
	v := url.Values{}
	v.Set("index", strconv.FormatUint(index, 10))
	v.Set("job", id)
	if wait > 0 {
		v.Set("wait", wait.String())
	}
	v.Set("limit", strconv.Itoa(MaxEvents))
	return c.events(ctx, v)
}

func (c *Client) events(ctx context.Context, v url.Values) (Events, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/events", v, nil)
	if err != nil {
		return Events{}, err
	}
	req.Header.Set("Accept", MsgpackType+", application/json")
	resp, err := c.do(req)
	if err != nil {
		return Events{}, err
	}
	defer resp.Body.Close()
	if !hasContentType(resp.Header, MsgpackType) {
		var out Events
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return Events{}, fmt.Errorf("api: decode /v1/events: %w", err)
		}
		return out, nil
	}
	var body []byte
	if n := resp.ContentLength; n >= 0 && n < 1<<30 {
		body = make([]byte, n)
		_, err = io.ReadFull(resp.Body, body)
	} else {
		body, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		return Events{}, fmt.Errorf("api: read /v1/events: %w", err)
	}
	out, err := newEventDecoder().decodePage(body)
	if err != nil {
		return Events{}, fmt.Errorf("api: decode /v1/events: %w", err)
	}
	return out, nil
}

// ClientRegister registers a client's nodes and claims them.
func (c *Client) ClientRegister(ctx context.Context, r ClientRegister) (ClientRegistered, error) {
	var out ClientRegistered
	return out, c.call(ctx, http.MethodPost, "/v1/client/register", nil, r, &out)
}

// ClientJoin asks to be issued the identity of client name (with a join
// credential), or confirms it (with the identity itself).
func (c *Client) ClientJoin(ctx context.Context, name string) (ClientJoined, error) {
	var out ClientJoined
	return out, c.call(ctx, http.MethodPost, "/v1/client/join", nil, ClientJoin{Client: name}, &out)
}

// RevokeClient revokes the identity of client name.
func (c *Client) RevokeClient(ctx context.Context, name, reason string) (WriteResult, error) {
	return c.post(ctx, "/v1/acl/client/"+esc(name)+"/revoke", ClientRevoke{Reason: reason})
}

// ClientHeartbeat reports node health.
func (c *Client) ClientHeartbeat(ctx context.Context, h ClientHeartbeat) error {
	return c.call(ctx, http.MethodPost, "/v1/client/heartbeat", nil, h, nil)
}

// ClientResults sends started attempts and results: in MsgpackType when the
// server streams assignments in it, JSON otherwise. It returns the server's
// applied index once it applied them (IndexHeader; 0 from a server that
// does not send it).
func (c *Client) ClientResults(ctx context.Context, r ClientResults) (uint64, error) {
	var body []byte
	if c.compact.Load() {
		body = appendResults(nil, &r)
	} else {
		b, err := json.Marshal(r)
		if err != nil {
			return 0, fmt.Errorf("api: encode /v1/client/results: %w", err)
		}
		body = b
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/client/results", nil, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if c.compact.Load() {
		req.Header.Set("Content-Type", MsgpackType)
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	idx, _ := strconv.ParseUint(resp.Header.Get(IndexHeader), 10, 64)
	return idx, resp.Body.Close()
}

// ClientAssignments opens the assignment stream of a client and calls fn
// with each assignment until ctx ends, the stream ends or fn returns an
// error. It asks for MsgpackType frames and reads NDJSON (one assignment a
// line, blank lines are keep-alives) from a server that answers in it.
func (c *Client) ClientAssignments(ctx context.Context, client string, fn func(Assignment) error) error {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/client/assignments", url.Values{"client": {client}}, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", MsgpackType+", application/x-ndjson")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if hasContentType(resp.Header, MsgpackType) {
		c.compact.Store(true)
		return c.readCompactStream(ctx, resp.Body, fn)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue // keep-alive
		}
		var a Assignment
		if err := json.Unmarshal(line, &a); err != nil {
			return fmt.Errorf("api: assignment stream: %w", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("api: assignment stream: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("api: assignment stream: %w", io.ErrUnexpectedEOF)
}

func (c *Client) readCompactStream(ctx context.Context, body io.Reader, fn func(Assignment) error) error {
	r := msgp.NewReaderSize(body, 64<<10)
	cache := strCache{}
	var batch []Assignment
	for {
		var err error
		batch, err = readAssignmentFrame(r, cache, batch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("api: assignment stream: %w", err)
		}
		for _, a := range batch {
			if err := fn(a); err != nil {
				return err
			}
		}
	}
}

// Query is a blocking query: a GET of path (a list or get route) that,
// when index is not zero, the server answers only once it has applied an
// entry past index or wait has passed (0: the server's default). It
// decodes the answer into out and returns the index to pass next time.
func (c *Client) Query(ctx context.Context, path string, q url.Values, index uint64, wait time.Duration, out any) (uint64, error) {
	v := url.Values{}
	for k, x := range q {
		v[k] = x
	}
	if index > 0 {
		v.Set("index", strconv.FormatUint(index, 10))
		if wait > 0 {
			v.Set("wait", wait.String())
		}
	}
	req, err := c.newRequest(ctx, http.MethodGet, path, v, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	next, _ := strconv.ParseUint(resp.Header.Get(IndexHeader), 10, 64)
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return next, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return next, fmt.Errorf("api: decode %s: %w", path, err)
	}
	return next, nil
}

// Command issues a described owner command: path is its route's path
// (core/ownercmd.Path), body its params by name and the reason.
func (c *Client) Command(ctx context.Context, path string, body map[string]any) (WriteResult, error) {
	return c.post(ctx, path, body)
}

// post sends body to a write route and answers the entry's index.
func (c *Client) post(ctx context.Context, path string, body any) (WriteResult, error) {
	var out WriteResult
	return out, c.call(ctx, http.MethodPost, path, nil, body, &out)
}

// get reads a route's answer as a T.
func get[T any](ctx context.Context, c *Client, path string) (T, error) {
	var out T
	return out, c.call(ctx, http.MethodGet, path, nil, nil, &out)
}

// LinkFault is one ordered pair of regions' injected faults on a region
// host (GET and POST /v1/operator/links).
type LinkFault struct {
	From        string `json:"from"`
	To          string `json:"to"`
	LatencyNs   int64  `json:"latency_ns"`
	Partitioned bool   `json:"partitioned"`
}

// LinkFaultRequest sets one pair: Latency as "2s" ("" for none).
type LinkFaultRequest struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Latency     string `json:"latency,omitempty"`
	Partitioned bool   `json:"partitioned"`
}

// SetLinkFault sets the latency and cut of the links from one region of a
// region host to another, and answers every pair's state.
func (c *Client) SetLinkFault(ctx context.Context, r LinkFaultRequest) ([]LinkFault, error) {
	var out []LinkFault
	return out, c.call(ctx, http.MethodPost, "/v1/operator/links", nil, r, &out)
}

// LinkFaults lists every ordered pair of regions' faults on a region host.
func (c *Client) LinkFaults(ctx context.Context) ([]LinkFault, error) {
	return get[[]LinkFault](ctx, c, "/v1/operator/links")
}

// WithRegion returns a copy of c whose requests name region (RegionHeader).
func (c *Client) WithRegion(region string) *Client {
	return &Client{base: c.base, token: c.token, hc: c.hc, stale: c.stale, region: region, leaderWait: c.leaderWait}
}

// HandOff hands queued jobs to a shard of another region of a region host
// (POST /v1/operator/handoff): one outcome a job, accepted with the
// hand-off id as Reason, or rejected with why.
func (c *Client) HandOff(ctx context.Context, ids []string, toShard string) ([]SubmitResult, error) {
	var out []SubmitResult
	body := struct {
		IDs     []string `json:"ids"`
		ToShard string   `json:"to_shard"`
	}{ids, toShard}
	return out, c.call(ctx, http.MethodPost, "/v1/operator/handoff", nil, body, &out)
}
