package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tinylib/msgp/msgp"
)

// ClientControl is the body of POST /v1/client/control, which opens a
// client's control stream.
type ClientControl struct {
	Client string `json:"client"`
	// Index is the highest frame index the client saw on an earlier
	// stream (0: none); a server that has not applied it yet waits for it,
	// and answers 503 when it does not catch up in time.
	Index uint64 `json:"index,omitempty"`
	// Running are the attempts the client holds (dispatched and not
	// finished) that no earlier frame cancelled.
	Running []JobAttempt `json:"running,omitempty"`
}

// ControlFrame is one frame of the control stream: NDJSON (one frame a
// line, a blank line is a keep-alive) or MsgpackType (see there).
type ControlFrame struct {
	// Index is the raft index of the serving server's applied state the
	// frame was read from; resume from the highest one seen.
	Index uint64 `json:"index"`
	// Full is set on a stream's first frame: Nodes then lists every node
	// the client hosts or may claim; later frames list changed ones only.
	Full        bool         `json:"full,omitempty"`
	Assignments []Assignment `json:"assignments,omitempty"`
	Cancels     []Cancel     `json:"cancels,omitempty"`
	// Nodes are nodes the client hosts or that no client hosts: all of
	// them on a Full frame, else the added and changed ones (a retirement
	// is a change of status).
	Nodes []Node `json:"nodes,omitempty"`
	// Gone are nodes listed before that the client may no longer serve
	// (deregistered, or hosted by another client).
	Gone []string `json:"gone,omitempty"`
	// Revoked, when set, says the client's identity was revoked; it is the
	// stream's last frame.
	Revoked string `json:"revoked,omitempty"`
}

// Cancel tells a client to stop an attempt it holds: the attempt is no
// longer current. State is the job's state now ("collected" for a job no
// longer recorded).
type Cancel struct {
	JobID   string `json:"job"`
	Attempt uint32 `json:"attempt"`
	State   string `json:"state"`
}

// ErrRevoked is returned by ClientControl after a frame that says the
// client's identity was revoked.
var ErrRevoked = errors.New("api: client identity revoked")

const (
	controlFields = 7
	cancelFields  = 3
)

// AppendControlFrame appends one msgpack control frame.
func AppendControlFrame(b []byte, f *ControlFrame) ([]byte, error) {
	b = msgp.AppendArrayHeader(b, controlFields)
	b = msgp.AppendUint64(b, f.Index)
	b = msgp.AppendBool(b, f.Full)
	b = AppendAssignments(b, f.Assignments)
	b = msgp.AppendArrayHeader(b, uint32(len(f.Cancels)))
	for _, c := range f.Cancels {
		b = msgp.AppendArrayHeader(b, cancelFields)
		b = msgp.AppendString(b, c.JobID)
		b = msgp.AppendUint32(b, c.Attempt)
		b = msgp.AppendString(b, c.State)
	}
	b = msgp.AppendArrayHeader(b, uint32(len(f.Nodes)))
	for i := range f.Nodes {
		raw, err := json.Marshal(&f.Nodes[i])
		if err != nil {
			return b, fmt.Errorf("api: encode node %s: %w", f.Nodes[i].ID, err)
		}
		b = msgp.AppendBytes(b, raw)
	}
	b = msgp.AppendArrayHeader(b, uint32(len(f.Gone)))
	for _, id := range f.Gone {
		b = msgp.AppendString(b, id)
	}
	b = msgp.AppendString(b, f.Revoked)
	return b, nil
}

// readControlFrame reads the next frame of a msgpack control stream; false
// for a keep-alive.
func readControlFrame(r *msgp.Reader, cache strCache, f *ControlFrame) (bool, error) {
	if r.IsNil() {
		return false, r.ReadNil()
	}
	nf, err := r.ReadArrayHeader()
	if err != nil {
		return false, err
	}
	if nf < controlFields {
		return false, fmt.Errorf("%w: control frame with %d fields", ErrWire, nf)
	}
	*f = ControlFrame{}
	if f.Index, err = r.ReadUint64(); err != nil {
		return false, err
	}
	if f.Full, err = r.ReadBool(); err != nil {
		return false, err
	}
	if f.Assignments, err = readAssignmentFrame(r, cache, nil); err != nil {
		return false, err
	}
	n, err := r.ReadArrayHeader()
	if err != nil {
		return false, err
	}
	for range n {
		var c Cancel
		cf, err := r.ReadArrayHeader()
		if err != nil {
			return false, err
		}
		if cf < cancelFields {
			return false, fmt.Errorf("%w: cancel with %d fields", ErrWire, cf)
		}
		if c.JobID, err = r.ReadString(); err != nil {
			return false, err
		}
		if c.Attempt, err = r.ReadUint32(); err != nil {
			return false, err
		}
		if c.State, err = r.ReadString(); err != nil {
			return false, err
		}
		for range cf - cancelFields {
			if err := r.Skip(); err != nil {
				return false, err
			}
		}
		f.Cancels = append(f.Cancels, c)
	}
	if n, err = r.ReadArrayHeader(); err != nil {
		return false, err
	}
	for range n {
		raw, err := r.ReadBytes(nil)
		if err != nil {
			return false, err
		}
		var nd Node
		if err := json.Unmarshal(raw, &nd); err != nil {
			return false, fmt.Errorf("%w: node: %v", ErrWire, err)
		}
		f.Nodes = append(f.Nodes, nd)
	}
	if n, err = r.ReadArrayHeader(); err != nil {
		return false, err
	}
	for range n {
		id, err := r.ReadString()
		if err != nil {
			return false, err
		}
		f.Gone = append(f.Gone, id)
	}
	if f.Revoked, err = r.ReadString(); err != nil {
		return false, err
	}
	for range nf - controlFields {
		if err := r.Skip(); err != nil {
			return false, err
		}
	}
	return true, nil
}

// ClientControl opens the control stream of req.Client and calls fn with
// each frame until ctx ends, the stream ends, fn returns an error or a
// frame says the identity was revoked (ErrRevoked, after fn saw it). It
// asks for MsgpackType frames and reads NDJSON from a server that answers
// in it. fn must not retain f past its return.
func (c *Client) ClientControl(ctx context.Context, req ClientControl, fn func(f *ControlFrame) error) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("api: encode /v1/client/control: %w", err)
	}
	hreq, err := c.newRequest(ctx, http.MethodPost, "/v1/client/control", nil, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Accept", MsgpackType+", application/x-ndjson")
	resp, err := c.do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	deliver := func(f *ControlFrame) error {
		if err := fn(f); err != nil {
			return err
		}
		if f.Revoked != "" {
			return fmt.Errorf("%w: %s", ErrRevoked, f.Revoked)
		}
		return nil
	}
	ended := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("api: control stream: %w", err)
	}
	var f ControlFrame
	if hasContentType(resp.Header, MsgpackType) {
		c.compact.Store(true)
		r := msgp.NewReaderSize(resp.Body, 64<<10)
		cache := strCache{}
		for {
			ok, err := readControlFrame(r, cache, &f)
			if err != nil {
				return ended(err)
			}
			if !ok {
				continue // keep-alive
			}
			if err := deliver(&f); err != nil {
				return err
			}
		}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue // keep-alive
		}
		f = ControlFrame{}
		if err := json.Unmarshal(line, &f); err != nil {
			return fmt.Errorf("api: control stream: %w", err)
		}
		if err := deliver(&f); err != nil {
			return err
		}
	}
	return ended(sc.Err())
}
