package link

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The content types of a link request and its answer. A request in msgpack
// is answered in msgpack; a request in JSON, or an error, in JSON.
const (
	ContentMsgpack = "application/x-msgpack"
	ContentJSON    = "application/json"
)

// PathPrefix is where Handler serves: POST /v1/link/{from}.
const PathPrefix = "/v1/link/"

// maxAnswerBytes bounds what the client side reads of an answer.
const maxAnswerBytes = 64 << 10

// jsonRequest is the JSON body of a request (bodies in base64).
type jsonRequest struct {
	To   string    `json:"to"`
	Msgs []Message `json:"msgs"`
}

// jsonAnswer is the JSON body of an answer; Error is set on a refusal.
type jsonAnswer struct {
	Through uint64 `json:"through"`
	Error   string `json:"error,omitempty"`
}

// Handler is the receiving side of the HTTP transport: it serves
// POST /v1/link/{from} for the inboxes of the regions this host serves.
// Mounted on a mux with the pattern "POST /v1/link/{from}" it reads {from}
// from the pattern; mounted elsewhere, from the last path segment.
type Handler struct {
	mu      sync.RWMutex
	inboxes map[string]Inbox
	// MaxBodyBytes bounds a request body (default MaxBatchBytes).
	MaxBodyBytes int64
}

// NewHandler returns a handler with no inboxes; Add registers them.
func NewHandler() *Handler { return &Handler{inboxes: map[string]Inbox{}} }

// Add registers the inbox of region.
func (h *Handler) Add(region string, in Inbox) {
	h.mu.Lock()
	h.inboxes[region] = in
	h.mu.Unlock()
}

// ServeHTTP decodes a batch, hands it to its region's inbox and answers the
// inbox's through.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s; a link takes POST", r.Method))
		return
	}
	from := r.PathValue("from")
	if from == "" {
		from = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	b, msgpack, status, err := h.decode(w, r, from)
	if err != nil {
		refuse(w, status, err)
		return
	}
	if err := CheckBatch(b); err != nil {
		refuse(w, http.StatusBadRequest, err)
		return
	}
	h.mu.RLock()
	in, ok := h.inboxes[b.To]
	h.mu.RUnlock()
	if !ok {
		refuse(w, http.StatusNotFound, fmt.Errorf("to: region %q is not served here", b.To))
		return
	}
	through, err := in.Deliver(r.Context(), b.From, b.Msgs)
	if err != nil {
		refuse(w, http.StatusServiceUnavailable, err)
		return
	}
	if msgpack {
		w.Header().Set("Content-Type", ContentMsgpack)
		w.Write(encodeAnswer(through))
		return
	}
	writeJSON(w, http.StatusOK, jsonAnswer{Through: through})
}

// decode reads the request body in the encoding its Content-Type names.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, from string) (b Batch, msgpack bool, status int, err error) {
	ct, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if perr != nil && r.Header.Get("Content-Type") != "" {
		return b, false, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type: %w", perr)
	}
	if ct != ContentMsgpack && ct != ContentJSON && ct != "" {
		return b, false, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type: %q; send %s or %s", ct, ContentMsgpack, ContentJSON)
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = MaxBatchBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return b, false, http.StatusRequestEntityTooLarge, fmt.Errorf("body: larger than %d bytes", limit)
		}
		return b, false, http.StatusBadRequest, fmt.Errorf("body: %w", err)
	}
	b.From = from
	if ct == ContentMsgpack {
		b.To, b.Msgs, err = decodeRequest(body)
		return b, true, http.StatusBadRequest, err
	}
	var req jsonRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return b, false, http.StatusBadRequest, fmt.Errorf("body: %w", err)
	}
	b.To, b.Msgs = req.To, req.Msgs
	return b, false, http.StatusOK, nil
}

func refuse(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, jsonAnswer{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// HTTPConfig configures the sending side of the HTTP transport.
type HTTPConfig struct {
	// Addresses maps a region to the base URL of the host that serves its
	// inbox ("http://10.0.0.7:4646").
	Addresses map[string]string
	// Client sends the requests (default a client of its own). The link's
	// RequestTimeout bounds each request through its context.
	Client *http.Client
	// Header is added to every request (an ACL token).
	Header http.Header
	// JSON sends JSON bodies instead of msgpack.
	JSON bool
}

// HTTPTransport sends batches to other hosts' Handlers.
type HTTPTransport struct {
	cfg  HTTPConfig
	urls map[string]string
}

// NewHTTPTransport checks every address of cfg, naming the region of a bad
// one.
func NewHTTPTransport(cfg HTTPConfig) (*HTTPTransport, error) {
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	t := &HTTPTransport{cfg: cfg, urls: map[string]string{}}
	for region, addr := range cfg.Addresses {
		if err := CheckName("Addresses", region); err != nil {
			return nil, err
		}
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("link: Addresses[%q]: %q is not an http(s) base URL", region, addr)
		}
		t.urls[region] = strings.TrimRight(addr, "/") + PathPrefix
	}
	return t, nil
}

// Send posts b to the host of b.To and returns its answer.
func (t *HTTPTransport) Send(ctx context.Context, b Batch) (uint64, error) {
	base, ok := t.urls[b.To]
	if !ok {
		return 0, fmt.Errorf("%w: to: no address for %q", ErrUnknownRegion, b.To)
	}
	body, ct, err := t.encode(b)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+url.PathEscape(b.From), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("link: %w", err)
	}
	for k, vs := range t.cfg.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", ct)
	resp, err := t.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("link: send to %s: %w", b.To, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return 0, fmt.Errorf("link: answer of %s: %w", b.To, err)
	}
	return readAnswer(b.To, resp, raw)
}

func (t *HTTPTransport) encode(b Batch) ([]byte, string, error) {
	if !t.cfg.JSON {
		return encodeRequest(b), ContentMsgpack, nil
	}
	msgs := b.Msgs
	if msgs == nil {
		msgs = []Message{}
	}
	body, err := json.Marshal(jsonRequest{To: b.To, Msgs: msgs})
	if err != nil {
		return nil, "", fmt.Errorf("link: encode batch: %w", err)
	}
	return body, ContentJSON, nil
}

// readAnswer turns an answer into a through or an error that carries the
// receiver's reason.
func readAnswer(to string, resp *http.Response, raw []byte) (uint64, error) {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusOK && ct == ContentMsgpack {
		through, err := decodeAnswer(raw)
		if err != nil {
			return 0, fmt.Errorf("link: answer of %s: %w", to, err)
		}
		return through, nil
	}
	var a jsonAnswer
	if ct != ContentJSON || json.Unmarshal(raw, &a) != nil {
		return 0, fmt.Errorf("link: answer of %s: %s (%s) %.200q", to, resp.Status, ct, raw)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, &RefusedError{Region: to, Status: resp.StatusCode, Reason: a.Error}
	}
	return a.Through, nil
}

// RefusedError is a receiver's refusal of a request.
type RefusedError struct {
	Region string // the receiving region
	Status int    // the HTTP status
	Reason string // the receiver's error, naming the field
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("link: %s refused the batch (%d %s): %s", e.Region, e.Status, http.StatusText(e.Status), e.Reason)
}

var (
	_ http.Handler = (*Handler)(nil)
	_ Transport    = (*HTTPTransport)(nil)
)
