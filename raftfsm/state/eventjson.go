package state

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSONFields appends e's fields as encoding/json writes them inside
// the object (from "seq" to "hash": the order and omitempty rules of the
// struct tags), without the braces, so a caller can wrap them (the event
// log adds an "anchor" field). escapeHTML selects encoding/json's escaping
// of < > & (on in json.Marshal, off in an Encoder with SetEscapeHTML(false)).
// The event log and the report bundle pin their bytes to encoding/json's in
// their tests.
func AppendJSONFields(dst []byte, e *Event, escapeHTML bool) []byte {
	str := func(dst []byte, key, v string, always bool) []byte {
		if v == "" && !always {
			return dst
		}
		dst = append(dst, key...)
		return AppendJSONString(dst, v, escapeHTML)
	}
	dst = append(dst, `"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendUint(dst, e.Index, 10)
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, e.Time, 10)
	dst = str(dst, `,"type":`, e.Type, true)
	dst = str(dst, `,"job":`, e.Job, false)
	if e.Attempt != 0 {
		dst = append(dst, `,"attempt":`...)
		dst = strconv.AppendUint(dst, uint64(e.Attempt), 10)
	}
	dst = str(dst, `,"shard":`, e.Shard, false)
	dst = str(dst, `,"from":`, e.From, false)
	dst = str(dst, `,"to":`, e.To, false)
	dst = str(dst, `,"node":`, e.Node, false)
	if e.ValueMu != 0 {
		dst = append(dst, `,"value_mu":`...)
		dst = strconv.AppendInt(dst, e.ValueMu, 10)
	}
	if e.AmountMu != 0 {
		dst = append(dst, `,"amount_mu":`...)
		dst = strconv.AppendInt(dst, e.AmountMu, 10)
	}
	dst = str(dst, `,"actor":`, e.Actor, false)
	dst = str(dst, `,"reason":`, e.Reason, false)
	dst = str(dst, `,"detail":`, e.Detail, false)
	dst = str(dst, `,"command":`, e.Command, false)
	dst = str(dst, `,"args":`, e.Args, false)
	dst = str(dst, `,"prev":`, e.Prev, true)
	return str(dst, `,"hash":`, e.Hash, true)
}

const hexDigits = "0123456789abcdef"

// plainJSON marks, per escaping mode, the ASCII bytes encoding/json copies
// unchanged: printable, not '"' or '\\', and with HTML escaping not '<',
// '>' or '&'.
var plainJSON = func() (t [2][utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[0][b] = b != '"' && b != '\\'
		t[1][b] = t[0][b] && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// AppendJSONString quotes s the way encoding/json does: \" \\ \b \f \n \r
// \t, \u00XX for other control bytes (and for < > & when escapeHTML),
// \ufffd for invalid UTF-8, and \u2028 / \u2029 escaped.
func AppendJSONString(dst []byte, s string, escapeHTML bool) []byte {
	plain := &plainJSON[0]
	if escapeHTML {
		plain = &plainJSON[1]
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if plain[b] {
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
