package container

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// apiEngine speaks the Docker Engine API over a unix socket; dockerd and
// `podman system service` both serve it.
type apiEngine struct {
	cfg    Config
	client *http.Client
}

func newAPIEngine(cfg Config) *apiEngine {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", cfg.Socket)
		},
		DisableCompression: true,
	}
	return &apiEngine{cfg: cfg, client: &http.Client{Transport: tr}}
}

// apiError is an Engine API error response.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("engine API %d: %s", e.Status, e.Message) }

// do sends one request; body is JSON-encoded when non-nil. A 2xx/304 answer
// returns the response for the caller to close.
func (e *apiEngine) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("container: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := "http://engine" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("container: %s %s: %w", method, path, ctx.Err())
		}
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("%w: socket %s: %w", ErrPermission, e.cfg.Socket, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrSocket, e.cfg.Socket, err)
	}
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotModified {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Message == "" {
		m.Message = strings.TrimSpace(string(raw))
	}
	return nil, &apiError{Status: resp.StatusCode, Message: m.Message}
}

// call does a request and decodes a JSON answer into out (if non-nil).
func (e *apiEngine) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := e.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrRuntime, path, err)
	}
	return nil
}

func (e *apiEngine) version(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"Version"`
	}
	if err := e.call(ctx, http.MethodGet, "/version", nil, nil, &v); err != nil {
		return "", err
	}
	return v.Version, nil
}

func (e *apiEngine) images(ctx context.Context) ([]string, error) {
	var list []struct {
		RepoTags []string `json:"RepoTags"`
	}
	filters, _ := json.Marshal(map[string][]string{"dangling": {"false"}})
	if err := e.call(ctx, http.MethodGet, "/images/json", url.Values{"filters": {string(filters)}}, nil, &list); err != nil {
		return nil, err
	}
	var refs []string
	for _, im := range list {
		for _, t := range im.RepoTags {
			if !strings.Contains(t, "<none>") {
				refs = append(refs, t)
			}
		}
	}
	return refs, nil
}

func (e *apiEngine) removeByLabel(ctx context.Context, label string) (int, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {label}})
	var list []struct {
		ID string `json:"Id"`
	}
	q := url.Values{"all": {"true"}, "filters": {string(filters)}}
	if err := e.call(ctx, http.MethodGet, "/containers/json", q, nil, &list); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range list {
		if err := e.call(ctx, http.MethodDelete, "/containers/"+c.ID, url.Values{"force": {"true"}}, nil, nil); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

type apiUlimit struct {
	Name string
	Soft int64
	Hard int64
}

type apiHostConfig struct {
	NetworkMode string      `json:",omitempty"`
	NanoCpus    int64       `json:",omitempty"`
	Memory      int64       `json:",omitempty"`
	PidsLimit   int64       `json:",omitempty"`
	Ulimits     []apiUlimit `json:",omitempty"`
}

type apiCreate struct {
	Image        string
	Cmd          []string          `json:",omitempty"`
	Env          []string          `json:",omitempty"`
	WorkingDir   string            `json:",omitempty"`
	Labels       map[string]string `json:",omitempty"`
	AttachStdout bool
	AttachStderr bool
	HostConfig   apiHostConfig
}

func (e *apiEngine) create(ctx context.Context, s runSpec) (string, error) {
	body := apiCreate{
		Image: s.Image, Cmd: s.Argv, WorkingDir: s.Workdir, Labels: s.Labels,
		AttachStdout: true, AttachStderr: true,
		HostConfig: apiHostConfig{
			NetworkMode: s.Network,
			NanoCpus:    int64(math.Round(s.CPUs * 1e9)),
			Memory:      s.Memory,
			PidsLimit:   s.Pids,
		},
	}
	for _, k := range sortedKeys(s.Env) {
		body.Env = append(body.Env, k+"="+s.Env[k])
	}
	for _, u := range e.cfg.Ulimits {
		l, err := parseUlimit(u)
		if err != nil {
			return "", err
		}
		body.HostConfig.Ulimits = append(body.HostConfig.Ulimits, apiUlimit(l))
	}
	var created struct {
		ID string `json:"Id"`
	}
	err := e.call(ctx, http.MethodPost, "/containers/create", url.Values{"name": {s.Name}}, body, &created)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && e.cfg.Registry != "" {
		if perr := e.call(ctx, http.MethodPost, "/images/create", url.Values{"fromImage": {s.Image}}, nil, nil); perr != nil {
			return "", fmt.Errorf("%w: image %s not present and pull failed: %w", ErrImageAbsent, s.Image, perr)
		}
		err = e.call(ctx, http.MethodPost, "/containers/create", url.Values{"name": {s.Name}}, body, &created)
	}
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return "", fmt.Errorf("%w: image %s not present", ErrImageAbsent, s.Image)
	case err != nil:
		return "", err
	}
	return created.ID, nil
}

func (e *apiEngine) run(ctx context.Context, s runSpec) (runOutcome, error) {
	if err := ctx.Err(); err != nil {
		return runOutcome{Stopped: true}, nil
	}
	id, err := e.create(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled mid-create: a container may exist under its name.
			e.cleanup(s.Name, false)
			return runOutcome{Stopped: true}, nil
		}
		return runOutcome{}, err
	}
	if err := e.call(ctx, http.MethodPost, "/containers/"+id+"/start", nil, nil, nil); err != nil {
		e.cleanup(id, false)
		if ctx.Err() != nil {
			return runOutcome{Stopped: true}, nil
		}
		return runOutcome{}, classifyAPI(err)
	}
	var waited struct {
		StatusCode int64 `json:"StatusCode"`
	}
	waitErr := e.call(ctx, http.MethodPost, "/containers/"+id+"/wait", nil, nil, &waited)
	if ctx.Err() != nil {
		out := e.cleanup(id, true)
		return runOutcome{Stopped: true, ExitCode: -1, Output: out}, nil
	}
	if waitErr != nil {
		e.cleanup(id, false)
		return runOutcome{}, waitErr
	}
	out := e.cleanup(id, false)
	return runOutcome{ExitCode: waited.StatusCode, Output: out}, nil
}

// cleanup optionally stops the container, collects its logs and removes it,
// all on a fresh bounded context (the task's ctx may be done).
func (e *apiEngine) cleanup(id string, stop bool) string {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.StopGrace+e.cfg.OpTimeout)
	defer cancel()
	if stop {
		grace := int(math.Ceil(e.cfg.StopGrace.Seconds()))
		_ = e.call(ctx, http.MethodPost, "/containers/"+id+"/stop", url.Values{"t": {strconv.Itoa(grace)}}, nil, nil)
	}
	out := e.logs(ctx, id)
	_ = e.call(ctx, http.MethodDelete, "/containers/"+id, url.Values{"force": {"true"}}, nil, nil)
	return out
}

// logs returns the container's stdout and stderr, bounded by OutputLimit.
func (e *apiEngine) logs(ctx context.Context, id string) string {
	resp, err := e.do(ctx, http.MethodGet, "/containers/"+id+"/logs", url.Values{"stdout": {"true"}, "stderr": {"true"}}, nil)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	buf := &limitBuffer{limit: e.cfg.OutputLimit}
	_ = demux(buf, resp.Body)
	return buf.String()
}

// demux copies a multiplexed log stream (8-byte frame headers: stream, 0, 0,
// 0, big-endian length) to w; a stream that is not framed is copied as is.
func demux(w io.Writer, r io.Reader) error {
	var hdr [8]byte
	for first := true; ; first = false {
		n, err := io.ReadFull(r, hdr[:])
		if err == io.EOF {
			return nil
		}
		if err != nil || (first && (hdr[0] > 2 || hdr[1] != 0 || hdr[2] != 0 || hdr[3] != 0)) {
			_, _ = w.Write(hdr[:n])
			_, cerr := io.Copy(w, r)
			return cerr
		}
		size := int64(binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.CopyN(w, r, size); err != nil {
			return err
		}
	}
}

func classifyAPI(err error) error {
	var ae *apiError
	if errors.As(err, &ae) && isPermission(ae.Message) {
		return fmt.Errorf("%w: %s", ErrPermission, excerpt(ae.Message))
	}
	if errors.As(err, &ae) {
		return fmt.Errorf("%w: %s", ErrRuntime, excerpt(ae.Message))
	}
	return err
}
