package eventlog

import (
	"bytes"
	"encoding/json"

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
// of escapes (state.EventJSONDecoder). It reports false, leaving r partly
// filled, on anything else.
func fastDecode(line []byte, r *record) bool {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	b, ok := bytes.CutPrefix(line, []byte("{"))
	if !ok {
		return false
	}
	if rest, ok := bytes.CutPrefix(b, []byte(`"anchor":true,`)); ok {
		r.Anchor, b = true, rest
	}
	var d state.EventJSONDecoder
	prev, hash, ok := d.DecodeFields(b, &r.Event)
	if !ok {
		return false
	}
	r.Prev, r.Hash = string(prev), string(hash)
	return true
}
