package client

import (
	"fmt"
	"unsafe"

	"github.com/tinylib/msgp/msgp"
)

// GET /v1/events answers in MsgpackType to a caller that lists it in
// Accept (Client does); every other caller gets JSON. The layout is
// positional MessagePack, and a reader skips fields past those it knows:
//
//	page:  [events ([]event), index (uint), head (uint)];
//	event: [seq, index, time, type, job, attempt, shard, from, to, node,
//	  value_mu, amount_mu, actor, reason, detail, prev, hash
//	  (, command, args)]
//	  (integers as in Event, strings as str, "" when unset; command and
//	  args only on an owner command's event).
const (
	eventFields      = 17
	eventOwnerFields = 19
	eventPageFields  = 3
	// eventSizeHint is about the encoded size of a job event, to size a
	// page's buffer once.
	eventSizeHint = 256
)

// EventPageWriter builds a msgpack page one event at a time (the server side
// of GET /v1/events). The events array gets a fixed-width header that Finish
// fills in, so events can be encoded as the log is scanned, without copying
// them first.
type EventPageWriter struct {
	b []byte
	n uint32
}

// MaxEvents is the most events one page of GET /v1/events carries (the
// server's cap on limit=).
const MaxEvents = 10_000

// NewEventPageWriter starts a page of about events events (a hint).
func NewEventPageWriter(events int) *EventPageWriter {
	w := &EventPageWriter{b: make([]byte, 0, 64+max(0, min(events, MaxEvents))*eventSizeHint)}
	w.b = msgp.AppendArrayHeader(w.b, eventPageFields)
	w.b = append(w.b, 0xdd, 0, 0, 0, 0) // array 32, count set by finish
	return w
}

// Add appends one event.
func (w *EventPageWriter) Add(e *Event) {
	w.b = appendEvent(w.b, e)
	w.n++
}

// Finish appends index and head and returns the page.
func (w *EventPageWriter) Finish(index, head uint64) []byte {
	w.b[2], w.b[3], w.b[4], w.b[5] = byte(w.n>>24), byte(w.n>>16), byte(w.n>>8), byte(w.n)
	w.b = msgp.AppendUint64(w.b, index)
	return msgp.AppendUint64(w.b, head)
}

// appendEventsPage appends page p in one go.
func appendEventsPage(b []byte, p *Events) []byte {
	b = msgp.AppendArrayHeader(b, eventPageFields)
	b = msgp.AppendArrayHeader(b, uint32(len(p.Events)))
	for i := range p.Events {
		b = appendEvent(b, &p.Events[i])
	}
	b = msgp.AppendUint64(b, p.Index)
	return msgp.AppendUint64(b, p.Head)
}

func appendEvent(b []byte, e *Event) []byte {
	owner := e.Command != "" || e.Args != ""
	if owner {
		b = msgp.AppendArrayHeader(b, eventOwnerFields)
	} else {
		b = msgp.AppendArrayHeader(b, eventFields)
	}
	b = msgp.AppendUint64(b, e.Seq)
	b = msgp.AppendUint64(b, e.Index)
	b = msgp.AppendInt64(b, e.Time)
	b = msgp.AppendString(b, e.Type)
	b = msgp.AppendString(b, e.Job)
	b = msgp.AppendUint32(b, e.Attempt)
	b = msgp.AppendString(b, e.Shard)
	b = msgp.AppendString(b, e.From)
	b = msgp.AppendString(b, e.To)
	b = msgp.AppendString(b, e.Node)
	b = msgp.AppendInt64(b, e.ValueMu)
	b = msgp.AppendInt64(b, e.AmountMu)
	b = msgp.AppendString(b, e.Actor)
	b = msgp.AppendString(b, e.Reason)
	b = msgp.AppendString(b, e.Detail)
	b = msgp.AppendString(b, e.Prev)
	b = msgp.AppendString(b, e.Hash)
	if owner {
		b = msgp.AppendString(b, e.Command)
		b = msgp.AppendString(b, e.Args)
	}
	return b
}

// eventDecoder decodes msgpack event pages. Short strings that repeat
// (types, shards, nodes, actors, reasons) are kept once across pages; the
// others (jobs, details, hashes) are packed into shared arena blocks.
type eventDecoder struct {
	names map[string]string
	arena []byte
	// lastHash is the previous event's hash ("" when none).
	lastHash string
}

// eventArenaBlock is the size of an arena block: a page of job events
// fills about one.
const eventArenaBlock = 1 << 20

func newEventDecoder() *eventDecoder { return &eventDecoder{names: make(map[string]string, 64)} }

// name interns a repeating string.
func (d *eventDecoder) name(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if s, ok := d.names[string(raw)]; ok {
		return s
	}
	s := string(raw)
	if len(d.names) < 4096 {
		d.names[s] = s
	}
	return s
}

// keep returns a string with the bytes of raw, stored in the arena.
func (d *eventDecoder) keep(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if len(raw) > eventArenaBlock/16 {
		return string(raw)
	}
	if cap(d.arena)-len(d.arena) < len(raw) {
		d.arena = make([]byte, 0, eventArenaBlock)
	}
	start := len(d.arena)
	d.arena = append(d.arena, raw...)
	// An arena block is only appended to: the bytes below len are never
	// written again, so the string stays immutable.
	return unsafe.String(&d.arena[start], len(raw))
}

// decodePage parses a page; trailing bytes are an error. Events come out
// in the order sent.
func (d *eventDecoder) decodePage(b []byte) (Events, error) {
	var out Events
	wrap := func(err error) error { return fmt.Errorf("%w: events: %v", ErrWire, err) }
	nf, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return out, wrap(err)
	}
	if nf < eventPageFields {
		return out, fmt.Errorf("%w: events page with %d fields", ErrWire, nf)
	}
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return out, wrap(err)
	}
	if uint64(n) > uint64(len(b))/eventFields { // each event takes at least 18 bytes
		return out, fmt.Errorf("%w: events page claims %d events in %d bytes", ErrWire, n, len(b))
	}
	out.Events = make([]Event, n)
	d.lastHash = ""
	for i := range out.Events {
		if b, err = d.decodeEvent(b, &out.Events[i]); err != nil {
			return Events{}, wrap(err)
		}
	}
	if out.Index, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return Events{}, wrap(err)
	}
	if out.Head, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return Events{}, wrap(err)
	}
	if b, err = skipFields(b, nf-eventPageFields); err != nil {
		return Events{}, wrap(err)
	}
	if len(b) != 0 {
		return Events{}, fmt.Errorf("%w: %d trailing bytes after events page", ErrWire, len(b))
	}
	return out, nil
}

// decodeEvent reads the next event of a page into e. A prev equal to the
// previous event's hash shares its string.
func (d *eventDecoder) decodeEvent(b []byte, e *Event) ([]byte, error) {
	nf, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return b, err
	}
	if nf < eventFields {
		return b, fmt.Errorf("event with %d fields", nf)
	}
	if e.Seq, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return b, err
	}
	if e.Index, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return b, err
	}
	if e.Time, b, err = msgp.ReadInt64Bytes(b); err != nil {
		return b, err
	}
	var raw []byte
	str := func(dst *string, conv func([]byte) string) error {
		if raw, b, err = msgp.ReadStringZC(b); err != nil {
			return err
		}
		*dst = conv(raw)
		return nil
	}
	if err := str(&e.Type, d.name); err != nil {
		return b, err
	}
	if err := str(&e.Job, d.keep); err != nil {
		return b, err
	}
	if e.Attempt, b, err = msgp.ReadUint32Bytes(b); err != nil {
		return b, err
	}
	for _, dst := range [...]*string{&e.Shard, &e.From, &e.To, &e.Node} {
		if err := str(dst, d.name); err != nil {
			return b, err
		}
	}
	if e.ValueMu, b, err = msgp.ReadInt64Bytes(b); err != nil {
		return b, err
	}
	if e.AmountMu, b, err = msgp.ReadInt64Bytes(b); err != nil {
		return b, err
	}
	for _, dst := range [...]*string{&e.Actor, &e.Reason} {
		if err := str(dst, d.name); err != nil {
			return b, err
		}
	}
	if err := str(&e.Detail, d.keep); err != nil {
		return b, err
	}
	if raw, b, err = msgp.ReadStringZC(b); err != nil {
		return b, err
	}
	if d.lastHash != "" && string(raw) == d.lastHash {
		e.Prev = d.lastHash // the chain: the previous event's hash
	} else {
		e.Prev = d.keep(raw)
	}
	if err := str(&e.Hash, d.keep); err != nil {
		return b, err
	}
	d.lastHash = e.Hash
	if nf < eventOwnerFields {
		return skipFields(b, nf-eventFields)
	}
	if err := str(&e.Command, d.name); err != nil {
		return b, err
	}
	if err := str(&e.Args, d.keep); err != nil {
		return b, err
	}
	return skipFields(b, nf-eventOwnerFields)
}
