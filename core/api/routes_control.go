package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// frameStream writes the frames of a long-lived response (msgpack frames,
// or NDJSON lines) and a keep-alive (a nil frame, or a blank line) every
// StreamKeepAlive while idle. Writes are serialised; none happens after
// close returns.
type frameStream struct {
	w       http.ResponseWriter
	fl      http.Flusher
	compact bool
	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
}

// openStream answers 200 with the stream's content type and starts its
// keep-alives; ctx ends when the caller goes away or a write fails.
func (h *HTTP) openStream(w http.ResponseWriter, r *http.Request, compact bool) (*frameStream, context.Context) {
	fs := &frameStream{w: w, compact: compact, done: make(chan struct{})}
	fs.fl, _ = w.(http.Flusher)
	keepAlive := []byte("\n")
	if compact {
		w.Header().Set("Content-Type", MsgpackType)
		keepAlive = msgp.AppendNil(nil)
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(http.StatusOK)
	fs.flush()
	ctx, cancel := context.WithCancel(r.Context())
	fs.cancel = cancel
	go func() {
		defer close(fs.done)
		t := time.NewTicker(h.cfg.StreamKeepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := fs.write(keepAlive); err != nil {
					cancel()
					return
				}
			}
		}
	}()
	return fs, ctx
}

func (fs *frameStream) flush() {
	if fs.fl != nil {
		fs.fl.Flush()
	}
}

// write writes b and flushes.
func (fs *frameStream) write(b []byte) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, err := fs.w.Write(b); err != nil {
		return err
	}
	fs.flush()
	return nil
}

// close stops the keep-alives and waits for the last one.
func (fs *frameStream) close() {
	fs.cancel()
	<-fs.done
}

// clientControl streams a client's control frames (server.Control): one
// msgpack frame each to a caller that accepts MsgpackType, else one JSON
// line each. It is served from this server's applied state, once that
// state has reached the index the client saw (ControlCatchUp at most,
// else 503 naming both indexes).
func (h *HTTP) clientControl(w http.ResponseWriter, r *http.Request) (any, error) {
	var req client.ClientControl
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.Client == "" {
		return nil, badRequest("client", "client is required")
	}
	if err := checkClient(r, req.Client); err != nil {
		return nil, err
	}
	running := make([]command.JobAttempt, len(req.Running))
	for i, a := range req.Running {
		if a.JobID == "" {
			return nil, badRequest(fmt.Sprintf("running[%d].job", i), "job is required")
		}
		running[i] = command.JobAttempt{JobID: a.JobID, Attempt: a.Attempt}
	}
	if req.Index > h.b.AppliedIndex() {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ControlCatchUp)
		err := h.b.WaitIndex(ctx, req.Index)
		cancel()
		if err != nil {
			if r.Context().Err() != nil {
				return nil, r.Context().Err()
			}
			w.Header().Set("Retry-After", "1")
			return nil, &apiError{status: http.StatusServiceUnavailable, field: "index", msg: fmt.Sprintf(
				"this server has applied index %d, behind index %d the client saw; try another server",
				h.b.AppliedIndex(), req.Index)}
		}
	}
	id := caller(r)
	sreq := server.ControlRequest{Client: req.Client, Index: req.Index, Running: running}
	if id.Type == state.TokenClientIdentity {
		sreq.Accessor = id.Accessor
	}
	compact := accepts(r, MsgpackType)
	fs, ctx := h.openStream(w, r, compact)
	defer fs.close()
	var (
		frame []byte
		out   client.ControlFrame
		line  bytes.Buffer
		enc   = json.NewEncoder(&line)
	)
	err := h.b.Control(ctx, sreq, func(b *server.ControlBatch) error {
		out = client.ControlFrame{Index: b.Index, Full: b.Full}
		for _, a := range b.Assignments {
			out.Assignments = append(out.Assignments, assignmentView(a))
		}
		for _, c := range b.Cancels {
			out.Cancels = append(out.Cancels, client.Cancel{JobID: c.JobID, Attempt: c.Attempt, State: c.State})
		}
		for _, n := range b.Nodes {
			out.Nodes = append(out.Nodes, view.Node(n))
		}
		out.Gone = b.Gone
		if b.Revoked {
			out.Revoked = "the identity of client " + req.Client + " was revoked"
		}
		var err error
		if compact {
			frame, err = client.AppendControlFrame(frame[:0], &out)
		} else {
			line.Reset()
			err = enc.Encode(&out)
			frame = line.Bytes()
		}
		if err != nil {
			return err
		}
		if err := fs.write(frame); err != nil {
			return fmt.Errorf("api: control stream: %w", err)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil && !errors.Is(err, server.ErrRevoked) {
		h.log.Warn("control stream ended", "client", req.Client, "error", err)
	}
	return nil, nil
}

// assignmentView is the wire form of an assignment.
func assignmentView(a server.Assignment) Assignment {
	return Assignment{JobID: a.JobID, Attempt: a.Attempt, Node: a.Node, Kind: a.Kind, Payload: a.Payload,
		Capabilities: a.Capabilities, Seed: a.Seed, Quote: Credits(a.QuoteMu)}
}
