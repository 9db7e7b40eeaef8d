package command

import (
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

var (
	// ErrEmpty is returned by Decode for an empty entry.
	ErrEmpty = errors.New("command: empty entry")
	// ErrUnknownType is returned for a MessageType this build does not know.
	// Entries with IgnoreUnknownFlag set may be skipped (see Ignorable).
	ErrUnknownType = errors.New("command: unknown message type")
	// ErrDecode is returned when a body does not decode as its type.
	ErrDecode = errors.New("command: undecodable body")
	// ErrUnknownCommandVersion is returned for an entry of a format version
	// newer than the reader knows (see FormatVersion): the FSM stops
	// applying rather than apply it wrongly, and a leader refuses to
	// propose it while a server in the configuration does not know it.
	ErrUnknownCommandVersion = errors.New("command of an unknown format version")
)

// CheckVersion returns nil when a server that knows format versions up to
// known may apply or accept command type t, else an error wrapping
// ErrUnknownCommandVersion that names the type and both versions.
func CheckVersion(t MessageType, known uint16) error {
	v := VersionOf(t)
	switch {
	case v == 0:
		return fmt.Errorf("%w: type %d is not known to this server, which knows format versions up to %d", ErrUnknownCommandVersion, t, min(known, FormatVersion))
	case v > known:
		return fmt.Errorf("%w: %s (type %d) needs format version %d, this server knows up to version %d", ErrUnknownCommandVersion, t, t, v, known)
	}
	return nil
}

// Encode returns the raft log entry for msg: the type byte then msgpack.
func Encode(t MessageType, msg msgp.Marshaler) ([]byte, error) {
	size := 64
	if sz, ok := msg.(msgp.Sizer); ok {
		size = sz.Msgsize()
	}
	buf := make([]byte, 1, 1+size)
	buf[0] = byte(t)
	out, err := msg.MarshalMsg(buf)
	if err != nil {
		return nil, fmt.Errorf("command: encode type %d: %w", t, err)
	}
	return out, nil
}

// EncodeBody returns the msgpack body alone (for ScheduleFire.Body).
func EncodeBody(msg msgp.Marshaler) ([]byte, error) {
	out, err := msg.MarshalMsg(nil)
	if err != nil {
		return nil, fmt.Errorf("command: encode body: %w", err)
	}
	return out, nil
}

// Ignorable reports whether an entry of type t may be skipped when unknown.
func Ignorable(t MessageType) bool { return t&IgnoreUnknownFlag != 0 }

// New returns a zero command struct for t, or nil if t is unknown (has no
// registry row). The IgnoreUnknownFlag bit is part of the type: a flagged
// type is a distinct command.
func New(t MessageType) msgp.Unmarshaler {
	if s, ok := Lookup(t); ok {
		return s.New()
	}
	return nil
}

// DecodeBody decodes a msgpack body of type t into a pointer to its struct
// (e.g. *SubmitBatch).
func DecodeBody(t MessageType, body []byte) (any, error) {
	m := New(t)
	if m == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, t)
	}
	rest, err := m.UnmarshalMsg(body)
	if err != nil {
		return nil, fmt.Errorf("%w: type %d: %w", ErrDecode, t, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: type %d: %d trailing bytes", ErrDecode, t, len(rest))
	}
	return m, nil
}

// Decode splits a raft log entry into its type and decoded command.
func Decode(buf []byte) (MessageType, any, error) {
	if len(buf) == 0 {
		return 0, nil, ErrEmpty
	}
	t := MessageType(buf[0])
	m, err := DecodeBody(t, buf[1:])
	return t, m, err
}

// String names a message type for logs: its registry name.
func (t MessageType) String() string {
	if s, ok := Lookup(t); ok {
		return s.Name
	}
	return fmt.Sprintf("type-%d", uint8(t))
}
