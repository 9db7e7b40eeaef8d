package eventlog

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/planetary/planetary/raftfsm/state"
)

// appendRecord appends one NDJSON line (newline included) for an event, or
// for an anchor when anchor is set. The bytes are exactly those of a
// json.Encoder with SetEscapeHTML(false) encoding record{anchor, *e}: the
// field order and omitempty rules of state.Event's tags, and encoding/json's
// string escaping. Readers, report verification and older segments therefore
// see one format. TestAppendRecordMatchesJSON pins the equivalence.
func appendRecord(dst []byte, anchor bool, e *state.Event) []byte {
	dst = append(dst, '{')
	if anchor {
		dst = append(dst, `"anchor":true,`...)
	}
	dst = append(dst, `"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendUint(dst, e.Index, 10)
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, e.Time, 10)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, e.Type)
	if e.Job != "" {
		dst = append(dst, `,"job":`...)
		dst = appendJSONString(dst, e.Job)
	}
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

// appendJSONString quotes s the way encoding/json does with HTML escaping
// off: \" \\ \b \f \n \r \t, \u00XX for other control bytes, \ufffd for
// invalid UTF-8 and \u2028 / \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
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

// decodeRecord parses one line written by appendRecord. Lines in any other
// shape (hand-edited, escaped strings, another field order) go through
// encoding/json, so every valid record is accepted.
func decodeRecord(line []byte) (record, error) {
	var r record
	if fastDecode(line, &r) {
		return r, nil
	}
	r = record{}
	err := json.Unmarshal(line, &r)
	return r, err
}

// fastDecode handles the exact layout appendRecord writes, with strings free
// of escapes. It reports false, leaving r partly filled, on anything else.
func fastDecode(line []byte, r *record) bool {
	p := decoder{b: line}
	for len(p.b) > 0 && (p.b[len(p.b)-1] == '\n' || p.b[len(p.b)-1] == '\r') {
		p.b = p.b[:len(p.b)-1]
	}
	if !p.lit("{") {
		return false
	}
	if p.lit(`"anchor":true,`) {
		r.Anchor = true
	}
	e := &r.Event
	ok := p.lit(`"seq":`) && p.uint(&e.Seq) &&
		p.lit(`,"index":`) && p.uint(&e.Index) &&
		p.lit(`,"time":`) && p.int(&e.Time) &&
		p.lit(`,"type":`) && p.str(&e.Type)
	if !ok {
		return false
	}
	if p.lit(`,"job":`) && !p.str(&e.Job) {
		return false
	}
	if p.lit(`,"attempt":`) {
		var a uint64
		if !p.uint(&a) || a > 1<<32-1 {
			return false
		}
		e.Attempt = uint32(a)
	}
	for _, f := range [...]struct {
		key string
		dst *string
	}{{`,"shard":`, &e.Shard}, {`,"from":`, &e.From}, {`,"to":`, &e.To}, {`,"node":`, &e.Node}} {
		if p.lit(f.key) && !p.str(f.dst) {
			return false
		}
	}
	if p.lit(`,"value_mu":`) && !p.int(&e.ValueMu) {
		return false
	}
	if p.lit(`,"amount_mu":`) && !p.int(&e.AmountMu) {
		return false
	}
	for _, f := range [...]struct {
		key string
		dst *string
	}{{`,"actor":`, &e.Actor}, {`,"reason":`, &e.Reason}, {`,"detail":`, &e.Detail}} {
		if p.lit(f.key) && !p.str(f.dst) {
			return false
		}
	}
	return p.lit(`,"prev":`) && p.str(&e.Prev) &&
		p.lit(`,"hash":`) && p.str(&e.Hash) &&
		p.lit("}") && len(p.b) == 0
}

type decoder struct{ b []byte }

func (p *decoder) lit(s string) bool {
	if len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

func (p *decoder) digits() []byte {
	i := 0
	for i < len(p.b) && p.b[i] >= '0' && p.b[i] <= '9' {
		i++
	}
	d := p.b[:i]
	p.b = p.b[i:]
	return d
}

func (p *decoder) uint(dst *uint64) bool {
	d := p.digits()
	if len(d) == 0 || (len(d) > 1 && d[0] == '0') {
		return false
	}
	v, err := strconv.ParseUint(string(d), 10, 64)
	*dst = v
	return err == nil
}

func (p *decoder) int(dst *int64) bool {
	neg := len(p.b) > 0 && p.b[0] == '-'
	if neg {
		p.b = p.b[1:]
	}
	d := p.digits()
	if len(d) == 0 || (len(d) > 1 && d[0] == '0') {
		return false
	}
	s := string(d)
	if neg {
		s = "-" + s
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*dst = v
	return err == nil
}

// str reads a quoted string without escapes or control bytes, valid UTF-8.
func (p *decoder) str(dst *string) bool {
	if len(p.b) == 0 || p.b[0] != '"' {
		return false
	}
	for i := 1; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			raw := p.b[1:i]
			if !utf8.Valid(raw) {
				return false
			}
			*dst = string(raw)
			p.b = p.b[i+1:]
			return true
		case c == '\\' || c < 0x20:
			return false
		}
	}
	return false
}
