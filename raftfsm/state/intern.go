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
const jobFields = 31

// jobSettledField is SettledMu's place in the tuple. A completed job of an
// older, shorter tuple was paid its quote: COMPAT, it decodes with
// SettledMu = QuoteMu.
const jobSettledField = 28

// UnmarshalJob decodes a Job written by the generated Job.MarshalMsg (a
// msgpack array of the fields in declaration order, see //msgp:tuple in
// types.go) into z, interning its low-cardinality strings without allocating
// them and packing ids and keys into the arena. It is the restore path's
// decoder. Unlike the generated decoder it accepts arrays with fewer fields
// (missing ones stay zero) or more (extra ones are skipped), so appending a
// field to Job keeps old and new snapshots readable.
func (in *Interner) UnmarshalJob(bts []byte, z *Job) ([]byte, error) {
	n, bts, err := msgp.ReadArrayHeaderBytes(bts)
	if err != nil {
		return bts, err
	}
	var b []byte
	str := func(dst *string) {
		*dst, bts, err = msgp.ReadStringBytes(bts)
	}
	istr := func(dst *string) {
		b, bts, err = msgp.ReadStringZC(bts)
		*dst = in.Bytes(b)
	}
	ustr := func(dst *string) {
		b, bts, err = msgp.ReadStringZC(bts)
		*dst = in.unique(b)
	}
	i64 := func(dst *int64) {
		*dst, bts, err = msgp.ReadInt64Bytes(bts)
	}
	for f := uint32(0); f < n; f++ {
		switch f {
		case 0:
			z.Seq, bts, err = msgp.ReadUint64Bytes(bts)
		case 1:
			ustr(&z.ID)
		case 2:
			ustr(&z.Key)
		case 3:
			istr(&z.Home)
		case 4:
			istr(&z.Shard)
		case 5:
			if msgp.IsNil(bts) {
				bts, err = msgp.ReadNilBytes(bts)
				break
			}
			var cn uint32
			cn, bts, err = msgp.ReadArrayHeaderBytes(bts)
			var buf [8]string
			caps := buf[:0]
			for ; cn > 0 && err == nil; cn-- {
				var c string
				istr(&c)
				caps = append(caps, c)
			}
			z.Capabilities = in.Caps(caps)
		case 6:
			i64(&z.Priority)
		case 7:
			i64(&z.ValueMu)
		case 8:
			i64(&z.MaxPriceMu)
		case 9:
			istr(&z.Kind)
		case 10:
			if msgp.IsNil(bts) {
				bts, err = msgp.ReadNilBytes(bts)
			} else if z.Payload, bts, err = msgp.ReadBytesBytes(bts, nil); len(z.Payload) == 0 {
				z.Payload = nil
			}
		case 11:
			var v uint8
			v, bts, err = msgp.ReadUint8Bytes(bts)
			z.State = JobState(v)
		case 12:
			istr(&z.Node)
		case 13:
			z.Attempt, bts, err = msgp.ReadUint32Bytes(bts)
		case 14:
			z.Hops, bts, err = msgp.ReadUint32Bytes(bts)
		case 15:
			i64(&z.QuoteMu)
		case 16:
			istr(&z.ParkedReason)
		case 17:
			str(&z.Output)
		case 18:
			i64(&z.ExitCode)
		case 19:
			str(&z.Error)
		case 20:
			i64(&z.SubmittedAt)
		case 21:
			i64(&z.AssignedAt)
		case 22:
			i64(&z.FinishedAt)
		case 23:
			istr(&z.Submitter)
		case 24:
			istr(&z.Origin)
		case 25:
			z.Units, bts, err = in.quantities(bts)
		case 26:
			z.Meters, bts, err = meters(bts)
		case 27:
			z.Usage, bts, err = in.quantities(bts)
		case 28:
			i64(&z.SettledMu)
		case 29:
			z.MaxAttempts, bts, err = msgp.ReadUint32Bytes(bts)
		case 30:
			z.UnparkedSeq, bts, err = msgp.ReadUint64Bytes(bts)
		default:
			bts, err = msgp.Skip(bts)
		}
		if err != nil {
			return bts, fmt.Errorf("job field %d: %w", f, err)
		}
	}
	if n <= jobSettledField && z.State == JobCompleted {
		z.SettledMu = z.QuoteMu
	}
	return bts, nil
}

// quantities decodes a []Quantity (nil or an array of [unit, micro] tuples as
// the generated code writes them), interning the unit names.
func (in *Interner) quantities(bts []byte) ([]Quantity, []byte, error) {
	if msgp.IsNil(bts) {
		bts, err := msgp.ReadNilBytes(bts)
		return nil, bts, err
	}
	var out []Quantity
	err := readStructs(&bts, func(b []byte) ([]byte, error) {
		var q Quantity
		b, err := q.UnmarshalMsg(b)
		q.Unit = in.Bytes([]byte(q.Unit))
		out = append(out, q)
		return b, err
	})
	return out, bts, err
}

// meters decodes a []Meter.
func meters(bts []byte) ([]Meter, []byte, error) {
	if msgp.IsNil(bts) {
		bts, err := msgp.ReadNilBytes(bts)
		return nil, bts, err
	}
	var out []Meter
	err := readStructs(&bts, func(b []byte) ([]byte, error) {
		var r Meter
		b, err := r.UnmarshalMsg(b)
		out = append(out, r)
		return b, err
	})
	return out, bts, err
}

func readStructs(bts *[]byte, one func([]byte) ([]byte, error)) error {
	n, b, err := msgp.ReadArrayHeaderBytes(*bts)
	for ; n > 0 && err == nil; n-- {
		b, err = one(b)
	}
	*bts = b
	return err
}
