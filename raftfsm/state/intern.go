package state

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/tinylib/msgp/msgp"
)

// Interner keeps one copy of each low-cardinality string (shard, node, kind,
// submitter names) and capability list, so a million jobs share them.
//
// It also owns an arena for job ids and keys decoded on restore: they are
// immutable and jobs are never deleted, so packing them into shared blocks
// saves an allocation and the size-class rounding per string.
type Interner struct {
	strs  map[string]string
	caps  map[string][]string
	arena []byte
}

const arenaBlock = 64 << 10

// unique returns a string with the bytes of b, stored in the arena.
func (in *Interner) unique(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaBlock/8 {
		return string(b)
	}
	if cap(in.arena)-len(in.arena) < len(b) {
		in.arena = make([]byte, 0, arenaBlock)
	}
	start := len(in.arena)
	in.arena = append(in.arena, b...)
	// The arena block is never written again below len, so the string
	// stays immutable.
	return unsafe.String(&in.arena[start], len(b))
}

// NewInterner returns an empty Interner.
func NewInterner() *Interner {
	return &Interner{strs: make(map[string]string), caps: make(map[string][]string)}
}

// Str returns the canonical copy of v.
func (in *Interner) Str(v string) string {
	if v == "" {
		return ""
	}
	if c, ok := in.strs[v]; ok {
		return c
	}
	in.strs[v] = v
	return v
}

// Bytes returns the canonical string for b, allocating only the first time.
func (in *Interner) Bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if c, ok := in.strs[string(b)]; ok {
		return c
	}
	v := string(b)
	in.strs[v] = v
	return v
}

// Caps returns a shared, read-only copy of a capability list.
func (in *Interner) Caps(c []string) []string {
	if len(c) == 0 {
		return nil
	}
	k := c[0]
	if len(c) > 1 {
		k = strings.Join(c, "\x00")
	}
	if v, ok := in.caps[k]; ok {
		return v
	}
	v := make([]string, len(c))
	for i, x := range c {
		v[i] = in.Str(x)
	}
	in.caps[k] = v
	return v
}

// jobFields is the number of fields UnmarshalJob knows; a test compares it
// with the Job struct so a new field cannot be forgotten here.
const jobFields = 24

// UnmarshalJob decodes a msgpack Job (as written by Job.MarshalMsg) into z,
// interning its low-cardinality strings without allocating them. It is the
// restore path's decoder: at a million jobs it saves most allocations.
func (in *Interner) UnmarshalJob(bts []byte, z *Job) ([]byte, error) {
	n, bts, err := msgp.ReadMapHeaderBytes(bts)
	if err != nil {
		return bts, err
	}
	var field, b []byte
	str := func() (string, error) {
		var s string
		s, bts, err = msgp.ReadStringBytes(bts)
		return s, err
	}
	ustr := func() (string, error) {
		b, bts, err = msgp.ReadStringZC(bts)
		return in.unique(b), err
	}
	istr := func() (string, error) {
		b, bts, err = msgp.ReadStringZC(bts)
		return in.Bytes(b), err
	}
	i64 := func() (int64, error) {
		var v int64
		v, bts, err = msgp.ReadInt64Bytes(bts)
		return v, err
	}
	for ; n > 0; n-- {
		field, bts, err = msgp.ReadMapKeyZC(bts)
		if err != nil {
			return bts, err
		}
		switch msgp.UnsafeString(field) {
		case "Seq":
			z.Seq, bts, err = msgp.ReadUint64Bytes(bts)
		case "ID":
			z.ID, err = ustr()
		case "Key":
			z.Key, err = ustr()
		case "Home":
			z.Home, err = istr()
		case "Shard":
			z.Shard, err = istr()
		case "Capabilities":
			var cn uint32
			cn, bts, err = msgp.ReadArrayHeaderBytes(bts)
			if err != nil {
				break
			}
			var buf [8]string
			caps := buf[:0]
			for ; cn > 0 && err == nil; cn-- {
				var s string
				s, err = istr()
				caps = append(caps, s)
			}
			z.Capabilities = in.Caps(caps)
		case "Priority":
			z.Priority, err = i64()
		case "ValueMu":
			z.ValueMu, err = i64()
		case "MaxPriceMu":
			z.MaxPriceMu, err = i64()
		case "Kind":
			z.Kind, err = istr()
		case "Payload":
			if msgp.IsNil(bts) {
				bts, err = msgp.ReadNilBytes(bts)
				z.Payload = nil
			} else {
				z.Payload, bts, err = msgp.ReadBytesBytes(bts, nil)
				if len(z.Payload) == 0 {
					z.Payload = nil
				}
			}
		case "State":
			var v uint8
			v, bts, err = msgp.ReadUint8Bytes(bts)
			z.State = JobState(v)
		case "Node":
			z.Node, err = istr()
		case "Attempt":
			z.Attempt, bts, err = msgp.ReadUint32Bytes(bts)
		case "Hops":
			z.Hops, bts, err = msgp.ReadUint32Bytes(bts)
		case "QuoteMu":
			z.QuoteMu, err = i64()
		case "ParkedReason":
			z.ParkedReason, err = istr()
		case "Output":
			z.Output, err = str()
		case "ExitCode":
			z.ExitCode, err = i64()
		case "Error":
			z.Error, err = str()
		case "SubmittedAt":
			z.SubmittedAt, err = i64()
		case "AssignedAt":
			z.AssignedAt, err = i64()
		case "FinishedAt":
			z.FinishedAt, err = i64()
		case "Submitter":
			z.Submitter, err = istr()
		default:
			bts, err = msgp.Skip(bts)
		}
		if err != nil {
			return bts, fmt.Errorf("job field %s: %w", field, err)
		}
	}
	return bts, nil
}
