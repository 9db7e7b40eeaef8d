package client

import (
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"

	"github.com/tinylib/msgp/msgp"
)

// MsgpackType is the media type of the client protocol's compact encoding.
// A client role asks for it with Accept on the control (or assignment)
// stream and sends result batches with it as Content-Type once the server
// answered the stream in it; every other caller keeps JSON.
//
// The layout is positional MessagePack: a record is an array whose first
// fields are fixed below; a reader skips fields past those it knows, so a
// later version may append fields.
//
//	assignment stream: a sequence of frames, each nil (keep-alive) or an
//	  array of assignments;
//	control stream: a sequence of frames, each nil (keep-alive) or [index
//	  (uint), full (bool), assignments ([]assignment), cancels ([]cancel),
//	  nodes ([]bin, each a node's JSON view), gone ([]str), revoked (str)];
//	cancel: [job, attempt, state];
//	assignment: [job, attempt, node, kind, payload (bin), capabilities
//	  ([]str), seed (uint), quote (float)];
//	results body: [client, started ([]attempt), results ([]result)];
//	attempt: [job, attempt];
//	result: [job, attempt, ok, retryable, exit_code, output, error,
//	  usage (map of unit to float, or nil)].
const MsgpackType = "application/x-msgpack"

// ErrWire is returned for a client-protocol message that does not decode.
var ErrWire = errors.New("api: malformed client protocol message")

const (
	assignmentFields = 8
	attemptFields    = 2
	resultFields     = 7 // the fields every result has; usage (8th) is optional
	resultsFields    = 3
)

// hasContentType reports whether the request body is of type typ.
func hasContentType(h http.Header, typ string) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == typ
}

// AppendAssignments appends one stream frame holding batch.
func AppendAssignments(b []byte, batch []Assignment) []byte {
	b = msgp.AppendArrayHeader(b, uint32(len(batch)))
	for i := range batch {
		a := &batch[i]
		b = msgp.AppendArrayHeader(b, assignmentFields)
		b = msgp.AppendString(b, a.JobID)
		b = msgp.AppendUint32(b, a.Attempt)
		b = msgp.AppendString(b, a.Node)
		b = msgp.AppendString(b, a.Kind)
		b = msgp.AppendBytes(b, a.Payload)
		b = msgp.AppendArrayHeader(b, uint32(len(a.Capabilities)))
		for _, c := range a.Capabilities {
			b = msgp.AppendString(b, c)
		}
		b = msgp.AppendUint64(b, a.Seed)
		b = msgp.AppendFloat64(b, a.Quote)
	}
	return b
}

// strCache keeps one copy of repeated short strings (node ids, kinds,
// capabilities) read from a stream.
type strCache map[string]string

func (c strCache) read(r *msgp.Reader, scratch []byte) (string, []byte, error) {
	raw, err := r.ReadStringAsBytes(scratch[:0])
	if err != nil {
		return "", raw, err
	}
	if s, ok := c[string(raw)]; ok {
		return s, raw, nil
	}
	s := string(raw)
	if len(c) < 4096 {
		c[s] = s
	}
	return s, raw, nil
}

// readAssignmentFrame reads the next frame of a msgpack assignment stream;
// a keep-alive yields an empty batch.
func readAssignmentFrame(r *msgp.Reader, cache strCache, out []Assignment) ([]Assignment, error) {
	out = out[:0]
	if r.IsNil() {
		return out, r.ReadNil()
	}
	n, err := r.ReadArrayHeader()
	if err != nil {
		return out, err
	}
	var scratch []byte
	for range n {
		var a Assignment
		nf, err := r.ReadArrayHeader()
		if err != nil {
			return out, err
		}
		if nf < assignmentFields {
			return out, fmt.Errorf("%w: assignment with %d fields", ErrWire, nf)
		}
		if a.JobID, err = r.ReadString(); err != nil {
			return out, err
		}
		if a.Attempt, err = r.ReadUint32(); err != nil {
			return out, err
		}
		if a.Node, scratch, err = cache.read(r, scratch); err != nil {
			return out, err
		}
		if a.Kind, scratch, err = cache.read(r, scratch); err != nil {
			return out, err
		}
		if a.Payload, err = r.ReadBytes(nil); err != nil {
			return out, err
		}
		if len(a.Payload) == 0 {
			a.Payload = nil
		}
		nc, err := r.ReadArrayHeader()
		if err != nil {
			return out, err
		}
		if nc > 0 {
			a.Capabilities = make([]string, nc)
			for k := range a.Capabilities {
				if a.Capabilities[k], scratch, err = cache.read(r, scratch); err != nil {
					return out, err
				}
			}
		}
		if a.Seed, err = r.ReadUint64(); err != nil {
			return out, err
		}
		if a.Quote, err = r.ReadFloat64(); err != nil {
			return out, err
		}
		for range nf - assignmentFields {
			if err := r.Skip(); err != nil {
				return out, err
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// appendResults appends a results body.
func appendResults(b []byte, r *ClientResults) []byte {
	b = msgp.AppendArrayHeader(b, resultsFields)
	b = msgp.AppendString(b, r.Client)
	b = msgp.AppendArrayHeader(b, uint32(len(r.Started)))
	for _, s := range r.Started {
		b = msgp.AppendArrayHeader(b, attemptFields)
		b = msgp.AppendString(b, s.JobID)
		b = msgp.AppendUint32(b, s.Attempt)
	}
	b = msgp.AppendArrayHeader(b, uint32(len(r.Results)))
	for i := range r.Results {
		x := &r.Results[i]
		b = msgp.AppendArrayHeader(b, resultFields+1)
		b = msgp.AppendString(b, x.JobID)
		b = msgp.AppendUint32(b, x.Attempt)
		b = msgp.AppendBool(b, x.OK)
		b = msgp.AppendBool(b, x.Retryable)
		b = msgp.AppendInt64(b, x.ExitCode)
		b = msgp.AppendString(b, x.Output)
		b = msgp.AppendString(b, x.Error)
		b = appendUsage(b, x.Usage)
	}
	return b
}

// appendUsage appends a result's usage: nil, or a map of unit to units in
// unit order (so that the same result always encodes the same bytes).
func appendUsage(b []byte, u map[string]float64) []byte {
	if len(u) == 0 {
		return msgp.AppendNil(b)
	}
	b = msgp.AppendMapHeader(b, uint32(len(u)))
	for _, k := range slices.Sorted(maps.Keys(u)) {
		b = msgp.AppendString(b, k)
		b = msgp.AppendFloat64(b, u[k])
	}
	return b
}

// readUsage reads what appendUsage wrote; numbers may be of any msgpack
// numeric type.
func readUsage(b []byte) (map[string]float64, []byte, error) {
	if msgp.IsNil(b) {
		b, err := msgp.ReadNilBytes(b)
		return nil, b, err
	}
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, b, err
	}
	out := make(map[string]float64, n)
	for ; n > 0; n-- {
		var k string
		if k, b, err = msgp.ReadStringBytes(b); err != nil {
			return nil, b, err
		}
		var v float64
		if v, b, err = readNumber(b); err != nil {
			return nil, b, err
		}
		out[k] = v
	}
	return out, b, nil
}

func readNumber(b []byte) (float64, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.Float32Type:
		f, b, err := msgp.ReadFloat32Bytes(b)
		return float64(f), b, err
	case msgp.IntType:
		i, b, err := msgp.ReadInt64Bytes(b)
		return float64(i), b, err
	case msgp.UintType:
		u, b, err := msgp.ReadUint64Bytes(b)
		return float64(u), b, err
	}
	return msgp.ReadFloat64Bytes(b)
}

// skipFields skips the fields of a record past the known ones.
func skipFields(b []byte, n uint32) ([]byte, error) {
	var err error
	for range n {
		if b, err = msgp.Skip(b); err != nil {
			return b, err
		}
	}
	return b, nil
}

// DecodeResults parses a results body; trailing bytes are an error.
func DecodeResults(b []byte) (ClientResults, error) {
	var out ClientResults
	wrap := func(err error) error { return fmt.Errorf("%w: results: %v", ErrWire, err) }
	nf, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return out, wrap(err)
	}
	if nf < resultsFields {
		return out, fmt.Errorf("%w: results with %d fields", ErrWire, nf)
	}
	if out.Client, b, err = msgp.ReadStringBytes(b); err != nil {
		return out, wrap(err)
	}
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return out, wrap(err)
	}
	if n > 0 {
		out.Started = make([]JobAttempt, n)
	}
	for i := range out.Started {
		s := &out.Started[i]
		var k uint32
		if k, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			return out, wrap(err)
		}
		if k < attemptFields {
			return out, fmt.Errorf("%w: started attempt with %d fields", ErrWire, k)
		}
		if s.JobID, b, err = msgp.ReadStringBytes(b); err != nil {
			return out, wrap(err)
		}
		if s.Attempt, b, err = msgp.ReadUint32Bytes(b); err != nil {
			return out, wrap(err)
		}
		if b, err = skipFields(b, k-attemptFields); err != nil {
			return out, wrap(err)
		}
	}
	if n, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
		return out, wrap(err)
	}
	if n > 0 {
		out.Results = make([]Result, n)
	}
	for i := range out.Results {
		x := &out.Results[i]
		var k uint32
		if k, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			return out, wrap(err)
		}
		if k < resultFields {
			return out, fmt.Errorf("%w: result with %d fields", ErrWire, k)
		}
		if x.JobID, b, err = msgp.ReadStringBytes(b); err != nil {
			return out, wrap(err)
		}
		if x.Attempt, b, err = msgp.ReadUint32Bytes(b); err != nil {
			return out, wrap(err)
		}
		if x.OK, b, err = msgp.ReadBoolBytes(b); err != nil {
			return out, wrap(err)
		}
		if x.Retryable, b, err = msgp.ReadBoolBytes(b); err != nil {
			return out, wrap(err)
		}
		if x.ExitCode, b, err = msgp.ReadInt64Bytes(b); err != nil {
			return out, wrap(err)
		}
		if x.Output, b, err = msgp.ReadStringBytes(b); err != nil {
			return out, wrap(err)
		}
		if x.Error, b, err = msgp.ReadStringBytes(b); err != nil {
			return out, wrap(err)
		}
		if k > resultFields {
			if x.Usage, b, err = readUsage(b); err != nil {
				return out, wrap(err)
			}
			k--
		}
		if b, err = skipFields(b, k-resultFields); err != nil {
			return out, wrap(err)
		}
	}
	if b, err = skipFields(b, nf-resultsFields); err != nil {
		return out, wrap(err)
	}
	if len(b) != 0 {
		return out, fmt.Errorf("%w: %d trailing bytes after results", ErrWire, len(b))
	}
	return out, nil
}
