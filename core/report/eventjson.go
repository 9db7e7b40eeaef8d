package report

import (
	"github.com/planetary/planetary/raftfsm/state"
)

// appendEventLine appends one events.ndjson line (newline included). The
// bytes are exactly those of json.Marshal(e) followed by '\n': the field
// order and omitempty rules of state.Event's tags and encoding/json's
// string escaping with HTML escaping on. TestAppendEventLineMatchesJSON pins
// the equivalence, so bundles written before and after read the same.
func appendEventLine(dst []byte, e *state.Event) []byte {
	dst = append(dst, '{')
	dst = state.AppendJSONFields(dst, e, true)
	return append(dst, '}', '\n')
}

// lineDecoder reads one events.ndjson line in exactly the layout
// appendEventLine writes (state.EventJSONDecoder), keeping one copy of the
// strings that repeat.
type lineDecoder struct{ d *state.EventJSONDecoder }

func newLineDecoder() *lineDecoder { return &lineDecoder{d: state.NewEventJSONDecoder()} }

// decode fills e from line (no trailing newline) except Prev and Hash,
// which it returns as sub-slices of line. It reports false, leaving e
// partly filled, on any other layout; the caller then decodes strictly.
func (p *lineDecoder) decode(line []byte, e *state.Event) (prev, hash []byte, ok bool) {
	if len(line) == 0 || line[0] != '{' {
		return nil, nil, false
	}
	return p.d.DecodeFields(line[1:], e)
}
