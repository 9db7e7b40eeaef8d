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
	dst = state.AppendJSONFields(dst, e, false)
	return append(dst, '}', '\n')
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
