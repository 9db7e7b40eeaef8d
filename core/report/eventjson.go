package report

import (
	"strconv"
	"unicode/utf8"

	"github.com/planetary/planetary/raftfsm/state"
)

// appendEventLine appends one events.ndjson line (newline included). The
// bytes are exactly those of json.Marshal(e) followed by '\n': the field
// order and omitempty rules of state.Event's tags and encoding/json's
// string escaping with HTML escaping on. TestAppendEventLineMatchesJSON pins
// the equivalence, so bundles written before and after read the same.
func appendEventLine(dst []byte, e *state.Event) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendUint(dst, e.Index, 10)
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, e.Time, 10)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, e.Type)
	dst = appendOptString(dst, `,"job":`, e.Job)
	if e.Attempt != 0 {
		dst = append(dst, `,"attempt":`...)
		dst = strconv.AppendUint(dst, uint64(e.Attempt), 10)
	}
	dst = appendOptString(dst, `,"shard":`, e.Shard)
	dst = appendOptString(dst, `,"from":`, e.From)
	dst = appendOptString(dst, `,"to":`, e.To)
	dst = appendOptString(dst, `,"node":`, e.Node)
	if e.ValueMu != 0 {
		dst = append(dst, `,"value_mu":`...)
		dst = strconv.AppendInt(dst, e.ValueMu, 10)
	}
	if e.AmountMu != 0 {
		dst = append(dst, `,"amount_mu":`...)
		dst = strconv.AppendInt(dst, e.AmountMu, 10)
	}
	dst = appendOptString(dst, `,"actor":`, e.Actor)
	dst = appendOptString(dst, `,"reason":`, e.Reason)
	dst = appendOptString(dst, `,"detail":`, e.Detail)
	dst = append(dst, `,"prev":`...)
	dst = appendJSONString(dst, e.Prev)
	dst = append(dst, `,"hash":`...)
	dst = appendJSONString(dst, e.Hash)
	return append(dst, '}', '\n')
}

func appendOptString(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendJSONString(dst, v)
}

const hexDigits = "0123456789abcdef"

// plainJSON marks the ASCII bytes encoding/json copies unchanged with HTML
// escaping on: printable, not '"', '\\', '<', '>' or '&'.
var plainJSON = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString quotes s the way encoding/json does with HTML escaping
// on: \" \\ \b \f \n \r \t, \u00XX for other control bytes and for < > &,
// \ufffd for invalid UTF-8 and \u2028 / \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if plainJSON[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// lineDecoder reads the exact layout appendEventLine writes, with strings
// free of escapes. It keeps one copy of the short strings that repeat from
// event to event (types, shards, nodes, actors, reasons).
type lineDecoder struct {
	b     []byte
	names map[string]string
}

func newLineDecoder() *lineDecoder { return &lineDecoder{names: make(map[string]string, 256)} }

// decode fills e from line (no trailing newline) except Prev and Hash,
// which it returns as sub-slices of line. It reports false, leaving e
// partly filled, on any other layout; the caller then decodes strictly.
// Every line it accepts decodes to the same event under the strict decoder.
func (p *lineDecoder) decode(line []byte, e *state.Event) (prev, hash []byte, ok bool) {
	p.b = line
	ok = p.lit(`{"seq":`) && p.uint(&e.Seq) &&
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

func (p *lineDecoder) lit(s string) bool {
	if len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

func (p *lineDecoder) digits() []byte {
	i := 0
	for i < len(p.b) && p.b[i] >= '0' && p.b[i] <= '9' {
		i++
	}
	d := p.b[:i]
	p.b = p.b[i:]
	return d
}

func (p *lineDecoder) uint(dst *uint64) bool {
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

func (p *lineDecoder) int(dst *int64) bool {
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

// Byte classes inside a quoted string, for lineDecoder.
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
func (p *lineDecoder) str() ([]byte, bool) {
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
func (p *lineDecoder) hex() ([]byte, bool) {
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
func (p *lineDecoder) name(dst *string) bool {
	raw, ok := p.str()
	if !ok {
		return false
	}
	if s, ok := p.names[string(raw)]; ok {
		*dst = s
		return true
	}
	s := string(raw)
	if len(p.names) < 4096 {
		p.names[s] = s
	}
	*dst = s
	return true
}
