package state

import "unicode/utf8"

// EventJSONDecoder reads an event in exactly the layout AppendJSONFields
// writes, with strings free of escapes: the fast path of the event log's
// and the report bundle's readers, which fall back to encoding/json on any
// other layout. Made by NewEventJSONDecoder it keeps one copy of the short
// strings that repeat from event to event (types, shards, nodes, actors,
// reasons); its zero value does not.
type EventJSONDecoder struct {
	b     []byte
	names map[string]string
}

// NewEventJSONDecoder returns a decoder that keeps repeating strings once.
func NewEventJSONDecoder() *EventJSONDecoder {
	return &EventJSONDecoder{names: make(map[string]string, 256)}
}

// DecodeFields parses b, which must hold AppendJSONFields' output followed
// by the closing '}' and nothing else. It fills e except Prev and Hash,
// which it returns as sub-slices of b (lowercase hex). It reports false,
// leaving e partly filled, on any other layout; every input it accepts
// decodes to the same event under encoding/json.
func (p *EventJSONDecoder) DecodeFields(b []byte, e *Event) (prev, hash []byte, ok bool) {
	p.b = b
	ok = p.lit(`"seq":`) && p.uint(&e.Seq) &&
		p.lit(`,"index":`) && p.uint(&e.Index) &&
		p.lit(`,"time":`) && p.int(&e.Time) &&
		p.lit(`,"type":`) && p.name(&e.Type)
	if !ok {
		return nil, nil, false
	}
	if p.lit(`,"job":`) {
		raw, ok := p.str()
		if !ok {
			return nil, nil, false
		}
		e.Job = string(raw)
	}
	if p.lit(`,"attempt":`) {
		var a uint64
		if !p.uint(&a) || a > 1<<32-1 {
			return nil, nil, false
		}
		e.Attempt = uint32(a)
	}
	if p.lit(`,"shard":`) && !p.name(&e.Shard) {
		return nil, nil, false
	}
	if p.lit(`,"from":`) && !p.name(&e.From) {
		return nil, nil, false
	}
	if p.lit(`,"to":`) && !p.name(&e.To) {
		return nil, nil, false
	}
	if p.lit(`,"node":`) && !p.name(&e.Node) {
		return nil, nil, false
	}
	if p.lit(`,"value_mu":`) && !p.int(&e.ValueMu) {
		return nil, nil, false
	}
	if p.lit(`,"amount_mu":`) && !p.int(&e.AmountMu) {
		return nil, nil, false
	}
	if p.lit(`,"actor":`) && !p.name(&e.Actor) {
		return nil, nil, false
	}
	if p.lit(`,"reason":`) && !p.name(&e.Reason) {
		return nil, nil, false
	}
	if p.lit(`,"detail":`) {
		raw, ok := p.str()
		if !ok {
			return nil, nil, false
		}
		e.Detail = string(raw)
	}
	if !p.lit(`,"prev":`) {
		return nil, nil, false
	}
	if prev, ok = p.hex(); !ok || !p.lit(`,"hash":`) {
		return nil, nil, false
	}
	if hash, ok = p.hex(); !ok || !p.lit("}") || len(p.b) != 0 {
		return nil, nil, false
	}
	return prev, hash, true
}

func (p *EventJSONDecoder) lit(s string) bool {
	if len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

func (p *EventJSONDecoder) digits() []byte {
	i := 0
	for i < len(p.b) && p.b[i] >= '0' && p.b[i] <= '9' {
		i++
	}
	d := p.b[:i]
	p.b = p.b[i:]
	return d
}

func (p *EventJSONDecoder) uint(dst *uint64) bool {
	d := p.digits()
	if len(d) == 0 || len(d) > 20 || (len(d) > 1 && d[0] == '0') {
		return false
	}
	var v uint64
	for _, c := range d {
		n := v*10 + uint64(c-'0')
		if v > (1<<64-1)/10 || n < v*10 {
			return false // overflow
		}
		v = n
	}
	*dst = v
	return true
}

func (p *EventJSONDecoder) int(dst *int64) bool {
	neg := len(p.b) > 0 && p.b[0] == '-'
	if neg {
		p.b = p.b[1:]
	}
	var u uint64
	if !p.uint(&u) {
		return false
	}
	switch {
	case !neg && u <= 1<<63-1:
		*dst = int64(u)
	case neg && u <= 1<<63:
		*dst = int64(-u)
	default:
		return false
	}
	return true
}

// Byte classes inside a quoted string, for EventJSONDecoder.
const (
	strPlain = iota // printable ASCII other than '"' and '\\'
	strQuote
	strEscape // '\\' or a control byte: left to the strict decoder
	strHigh   // part of a multi-byte UTF-8 sequence
	strHex    // a lowercase hex digit (also plain)
)

var strClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '"':
			t[c] = strQuote
		case c == '\\' || c < 0x20:
			t[c] = strEscape
		case c >= utf8.RuneSelf:
			t[c] = strHigh
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			t[c] = strHex
		}
	}
	return t
}()

// str reads a quoted string without escapes or control bytes, valid UTF-8,
// and returns its bytes.
func (p *EventJSONDecoder) str() ([]byte, bool) {
	if len(p.b) == 0 || p.b[0] != '"' {
		return nil, false
	}
	ascii := true
	for i := 1; i < len(p.b); i++ {
		switch strClass[p.b[i]] {
		case strPlain, strHex:
		case strQuote:
			raw := p.b[1:i]
			if !ascii && !utf8.Valid(raw) {
				return nil, false
			}
			p.b = p.b[i+1:]
			return raw, true
		case strEscape:
			return nil, false
		default:
			ascii = false
		}
	}
	return nil, false
}

// hex reads a quoted string of lowercase hex digits (a chain hash). Any
// other string is left to the strict decoder.
func (p *EventJSONDecoder) hex() ([]byte, bool) {
	if len(p.b) == 0 || p.b[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(p.b); i++ {
		switch strClass[p.b[i]] {
		case strHex:
		case strQuote:
			raw := p.b[1:i]
			p.b = p.b[i+1:]
			return raw, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// name reads a string that is likely to repeat and keeps one copy of it.
func (p *EventJSONDecoder) name(dst *string) bool {
	raw, ok := p.str()
	if !ok {
		return false
	}
	if s, ok := p.names[string(raw)]; ok {
		*dst = s
		return true
	}
	s := string(raw)
	if p.names != nil && len(p.names) < 4096 {
		p.names[s] = s
	}
	*dst = s
	return true
}
