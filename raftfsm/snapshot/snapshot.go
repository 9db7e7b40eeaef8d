// Package snapshot is the codec of planetary's FSM snapshot stream.
//
// Layout (all integers big-endian):
//
//	header  "PLNTSNAP" | version uint16
//	record  tag uint8 | length uint32 | msgpack body   (repeated)
//	trailer tagTrailer | offset uint64 | crc32c uint32
//
// Records come in a fixed order: shards (sorted by name), nodes (sorted by
// id), jobs (by seq), global counts, shard counts, node counts (sorted),
// flows (sorted by from, to), payments (sorted), policy, tokens (sorted) and
// the store meta (chain head, events, clock, applied index), then (version 2)
// garbage collection's aggregates and the tombs of the idempotency window in
// collection order, then (version 3) the other regions' latest ledger
// checkpoints sorted by region, then (version 4) the hand-offs out of the
// region and into it, each sorted by id. Job seqs are ascending with gaps where jobs were
// collected. The trailer's
// offset is its own position in the stream and the CRC-32C covers every byte
// before the trailer. Readers reject unknown tags; a new record type or a
// change to an existing one bumps Version and keeps a reader for the old one.
package snapshot

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/planetary/planetary/raftfsm/state"
	"github.com/tinylib/msgp/msgp"
)

// Magic opens every snapshot stream.
const Magic = "PLNTSNAP"

// Version is the format version written by this build.
//
//	1: initial format.
//	2: adds the collected aggregates record and tomb records (garbage
//	   collection); version 1 streams still read, with none collected.
//	3: adds region checkpoint records (the global ledger); older streams
//	   read with none stored.
//	4: adds hand-off records (state.HandOff, state.HandIn: cross-region
//	   hand-offs); older streams read with none.
//
// Write uses the oldest version that holds the image (VersionOf), so a
// snapshot without region checkpoints stays readable by a version 2 build
// during a rolling upgrade: checkpoints arrive only by a command of format
// version 3, which the leader proposes once every server knows it.
const Version uint16 = 4

// minVersion is the oldest format this build reads.
const minVersion uint16 = 1

var (
	// ErrBadMagic: the stream does not start with Magic.
	ErrBadMagic = errors.New("snapshot: bad magic, not a planetary snapshot")
	// ErrUnsupportedVersion: the format version is unknown to this build.
	ErrUnsupportedVersion = errors.New("snapshot: unsupported format version")
	// ErrTruncated: the stream ended before its trailer.
	ErrTruncated = errors.New("snapshot: truncated stream")
	// ErrChecksum: the trailer checksum does not match the content.
	ErrChecksum = errors.New("snapshot: checksum mismatch")
	// ErrCorrupt: the checksum matched but a record could not be decoded or
	// the image is inconsistent (a bug in the writer).
	ErrCorrupt = errors.New("snapshot: corrupt record")
)

const (
	tagShard       = 1
	tagNode        = 2
	tagJob         = 3
	tagGlobal      = 4
	tagShardCounts = 5
	tagNodeCounts  = 6
	tagFlow        = 7
	tagPayment     = 8
	tagPolicy      = 9
	tagToken       = 10
	tagMeta        = 11
	tagCollected   = 12
	tagTomb        = 13
	tagRegion      = 14
	tagHandOff     = 15
	tagHandIn      = 16
	tagTrailer     = 0xFF

	headerLen  = len(Magic) + 2
	trailerLen = 1 + 8 + 4
	maxRecord  = 1 << 30
)

// castagnoli returns the CRC-32C table (crc32 builds it once and caches it).
func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

type writer struct {
	tab *crc32.Table
	w   *bufio.Writer
	crc uint32
	n   uint64
	buf []byte
	err error
}

func (w *writer) raw(p []byte) {
	if w.err != nil {
		return
	}
	w.crc = crc32.Update(w.crc, w.tab, p)
	w.n += uint64(len(p))
	_, w.err = w.w.Write(p)
}

func (w *writer) record(tag byte, m msgp.Marshaler) {
	if w.err != nil {
		return
	}
	// Reserve the 5-byte record header, marshal after it, then fill it in.
	b := append(w.buf[:0], tag, 0, 0, 0, 0)
	b, err := m.MarshalMsg(b)
	if err != nil {
		w.err = fmt.Errorf("snapshot: encode record %d: %w", tag, err)
		return
	}
	binary.BigEndian.PutUint32(b[1:5], uint32(len(b)-5))
	w.buf = b
	w.raw(b)
}

// Write encodes img to out in format version VersionOf(img). It buffers
// internally and flushes before returning.
func Write(out io.Writer, img *state.Image) error { return write(out, img, VersionOf(img)) }

// VersionOf is the format version Write uses for img: the oldest that holds
// every record it has (4 with hand-offs, 3 with region checkpoints, else 2).
func VersionOf(img *state.Image) uint16 {
	if len(img.HandOffs) > 0 || len(img.HandIns) > 0 {
		return 4
	}
	if len(img.Regions) > 0 {
		return 3
	}
	return 2
}

// write encodes img in format version ver (tests write version 1 streams
// to show they still read).
func write(out io.Writer, img *state.Image, ver uint16) error {
	w := &writer{tab: castagnoli(), w: bufio.NewWriterSize(out, 1<<20), buf: make([]byte, 0, 4096)}
	var hdr [headerLen]byte
	copy(hdr[:], Magic)
	binary.BigEndian.PutUint16(hdr[len(Magic):], ver)
	w.raw(hdr[:])
	for _, s := range img.Shards {
		w.record(tagShard, s)
	}
	for _, n := range img.Nodes {
		w.record(tagNode, n)
	}
	for _, j := range img.Jobs {
		w.record(tagJob, j)
	}
	w.record(tagGlobal, &img.Global)
	for i := range img.ShardCounts {
		w.record(tagShardCounts, &img.ShardCounts[i])
	}
	for i := range img.NodeCounts {
		w.record(tagNodeCounts, &img.NodeCounts[i])
	}
	for i := range img.Flows {
		w.record(tagFlow, &img.Flows[i])
	}
	for i := range img.Payments {
		w.record(tagPayment, &img.Payments[i])
	}
	w.record(tagPolicy, &img.Policy)
	for i := range img.Tokens {
		w.record(tagToken, &img.Tokens[i])
	}
	w.record(tagMeta, &img.Meta)
	if ver >= 2 {
		w.record(tagCollected, &img.Collected)
		for i := range img.Tombs {
			w.record(tagTomb, &img.Tombs[i])
		}
	}
	if ver >= 3 {
		for i := range img.Regions {
			w.record(tagRegion, &img.Regions[i])
		}
	}
	if ver >= 4 {
		for i := range img.HandOffs {
			w.record(tagHandOff, &img.HandOffs[i])
		}
		for i := range img.HandIns {
			w.record(tagHandIn, &img.HandIns[i])
		}
	}
	if w.err != nil {
		return w.err
	}
	var tr [trailerLen]byte
	tr[0] = tagTrailer
	binary.BigEndian.PutUint64(tr[1:9], w.n)
	binary.BigEndian.PutUint32(tr[9:], w.crc)
	if _, err := w.w.Write(tr[:]); err != nil {
		return fmt.Errorf("snapshot: write trailer: %w", err)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("snapshot: flush: %w", err)
	}
	return nil
}

// reader hands out byte slices from a large buffer and computes the CRC of
// consumed bytes lazily, always leaving the last trailerLen consumed bytes
// unhashed so that a failed read can still be checked against the trailer.
type reader struct {
	tab    *crc32.Table
	r      io.Reader
	buf    []byte
	start  int // first unhashed byte
	pos    int // read position
	end    int // end of valid data
	base   uint64
	crc    uint32
	eof    bool
	rerr   error
	offset uint64 // stream offset of buf[0]
}

func newReader(r io.Reader) *reader {
	return &reader{tab: castagnoli(), r: r, buf: make([]byte, 1<<20)}
}

func (r *reader) hashUpTo(p int) {
	if p > r.start {
		r.crc = crc32.Update(r.crc, r.tab, r.buf[r.start:p])
		r.start = p
	}
}

// fill makes at least need bytes available at pos.
func (r *reader) fill(need int) error {
	for r.end-r.pos < need {
		if r.eof {
			return io.ErrUnexpectedEOF
		}
		r.hashUpTo(r.pos - trailerLen)
		if r.start > 0 {
			n := copy(r.buf, r.buf[r.start:r.end])
			r.offset += uint64(r.start)
			r.pos -= r.start
			r.end = n
			r.start = 0
		}
		if want := r.pos + need; want > len(r.buf) {
			nb := make([]byte, want*2)
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			r.rerr = err
			return fmt.Errorf("snapshot: read: %w", err)
		}
	}
	return nil
}

func (r *reader) next(n int) ([]byte, error) {
	if err := r.fill(n); err != nil {
		return nil, err
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *reader) streamPos() uint64 { return r.offset + uint64(r.pos) }

// diagnose classifies a failure in the middle of the stream: if the stream
// ends in a well-formed trailer, the failure is a checksum mismatch (or, if
// the checksum matches, a corrupt record); otherwise the stream is truncated.
func (r *reader) diagnose(cause error) error {
	if r.rerr != nil {
		return cause
	}
	rest, err := io.ReadAll(r.r)
	if err != nil {
		return fmt.Errorf("snapshot: read: %w", err)
	}
	all := append(append([]byte(nil), r.buf[r.start:r.end]...), rest...)
	if len(all) >= trailerLen {
		tr := all[len(all)-trailerLen:]
		body := all[:len(all)-trailerLen]
		at := r.offset + uint64(r.start) + uint64(len(body))
		if tr[0] == tagTrailer && binary.BigEndian.Uint64(tr[1:9]) == at {
			if crc32.Update(r.crc, r.tab, body) != binary.BigEndian.Uint32(tr[9:]) {
				return fmt.Errorf("%w (at byte %d: %v)", ErrChecksum, r.streamPos(), cause)
			}
			return fmt.Errorf("%w at byte %d: %w", ErrCorrupt, r.streamPos(), cause)
		}
	}
	return fmt.Errorf("%w after %d bytes: %v", ErrTruncated, r.offset+uint64(r.end)+uint64(len(rest)), cause)
}

// visitor receives decoded records.
type visitor func(tag byte, body []byte) error

func scan(in io.Reader, visit visitor) (uint16, error) {
	r := newReader(in)
	hdr, err := r.next(headerLen)
	if err != nil {
		if string(r.buf[:min(r.end, len(Magic))]) != Magic[:min(r.end, len(Magic))] {
			return 0, ErrBadMagic
		}
		return 0, fmt.Errorf("%w: no header", ErrTruncated)
	}
	if string(hdr[:len(Magic)]) != Magic {
		return 0, ErrBadMagic
	}
	ver := binary.BigEndian.Uint16(hdr[len(Magic):])
	if ver < minVersion || ver > Version {
		return ver, fmt.Errorf("%w: %d (this build reads %d to %d)", ErrUnsupportedVersion, ver, minVersion, Version)
	}
	for {
		at := r.streamPos()
		h, err := r.next(1)
		if err != nil {
			return ver, r.diagnose(err)
		}
		tag := h[0]
		if tag == tagTrailer {
			r.hashUpTo(r.pos - 1)
			tr, err := r.next(trailerLen - 1)
			if err != nil {
				return ver, r.diagnose(err)
			}
			if binary.BigEndian.Uint64(tr[:8]) != at || binary.BigEndian.Uint32(tr[8:]) != r.crc {
				return ver, fmt.Errorf("%w: trailer at byte %d", ErrChecksum, at)
			}
			if _, err := r.next(1); err == nil {
				return ver, fmt.Errorf("%w: data after trailer", ErrCorrupt)
			} else if r.rerr != nil {
				return ver, err
			}
			return ver, nil
		}
		lb, err := r.next(4)
		if err != nil {
			return ver, r.diagnose(err)
		}
		n := binary.BigEndian.Uint32(lb)
		if n > maxRecord {
			return ver, r.diagnose(fmt.Errorf("record length %d", n))
		}
		body, err := r.next(int(n))
		if err != nil {
			return ver, r.diagnose(err)
		}
		if err := visit(tag, body); err != nil {
			return ver, r.diagnose(fmt.Errorf("record %d at byte %d: %w", tag, at, err))
		}
	}
}

func unmarshal(body []byte, m msgp.Unmarshaler) error {
	rest, err := m.UnmarshalMsg(body)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rest))
	}
	return nil
}

// Read decodes a snapshot stream into an image.
func Read(in io.Reader) (*state.Image, error) {
	img := &state.Image{}
	jobs := newJobDecoder()
	var sawMeta, sawPolicy bool
	_, err := scan(in, func(tag byte, body []byte) error {
		switch tag {
		case tagShard:
			s := &state.Shard{}
			img.Shards = append(img.Shards, s)
			return unmarshal(body, s)
		case tagNode:
			n := &state.Node{}
			img.Nodes = append(img.Nodes, n)
			return unmarshal(body, n)
		case tagJob:
			jobs.add(body)
			return nil
		case tagGlobal:
			return unmarshal(body, &img.Global)
		case tagShardCounts:
			img.ShardCounts = append(img.ShardCounts, state.NamedCounts{})
			return unmarshal(body, &img.ShardCounts[len(img.ShardCounts)-1])
		case tagNodeCounts:
			img.NodeCounts = append(img.NodeCounts, state.NamedCounts{})
			return unmarshal(body, &img.NodeCounts[len(img.NodeCounts)-1])
		case tagFlow:
			img.Flows = append(img.Flows, state.Flow{})
			return unmarshal(body, &img.Flows[len(img.Flows)-1])
		case tagPayment:
			img.Payments = append(img.Payments, state.Payment{})
			return unmarshal(body, &img.Payments[len(img.Payments)-1])
		case tagPolicy:
			sawPolicy = true
			return unmarshal(body, &img.Policy)
		case tagToken:
			img.Tokens = append(img.Tokens, state.Token{})
			return unmarshal(body, &img.Tokens[len(img.Tokens)-1])
		case tagMeta:
			sawMeta = true
			return unmarshal(body, &img.Meta)
		case tagCollected:
			return unmarshal(body, &img.Collected)
		case tagTomb:
			img.Tombs = append(img.Tombs, state.Tomb{})
			return unmarshal(body, &img.Tombs[len(img.Tombs)-1])
		case tagRegion:
			img.Regions = append(img.Regions, state.RegionCheckpoint{})
			return unmarshal(body, &img.Regions[len(img.Regions)-1])
		case tagHandOff:
			img.HandOffs = append(img.HandOffs, state.HandOff{})
			return unmarshal(body, &img.HandOffs[len(img.HandOffs)-1])
		case tagHandIn:
			img.HandIns = append(img.HandIns, state.HandIn{})
			return unmarshal(body, &img.HandIns[len(img.HandIns)-1])
		}
		return fmt.Errorf("unknown record tag %d", tag)
	})
	decoded, derr := jobs.finish()
	if err != nil {
		return nil, err
	}
	if derr != nil {
		// The checksum matched, so the writer produced a bad record.
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, derr)
	}
	img.Jobs, img.Interner = decoded, jobs.interners[0]
	if !sawMeta || !sawPolicy {
		return nil, fmt.Errorf("%w: missing policy or meta record", ErrCorrupt)
	}
	return img, nil
}

// Info summarises a snapshot stream without building state.
type Info struct {
	Version  uint16
	Bytes    uint64
	Shards   int
	Nodes    int
	Jobs     int
	Flows    int
	Payments int
	Tokens   int
	Tombs    int
	// Regions counts the other regions' checkpoints (0 before version 3).
	Regions int
	// HandOffs and HandIns count the hand-off records out of the region
	// and into it (version 4).
	HandOffs int
	HandIns  int
	Global   state.Counts
	// Collected: garbage collection's aggregates (zero before version 2).
	Collected state.Collected
	Meta      state.StoreMeta // chain head, events, clock, applied index
}

type countingReader struct {
	r io.Reader
	n uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}

// Inspect reads and verifies a whole stream (checksum included) and reports
// what it holds. It decodes only the small records.
func Inspect(in io.Reader) (Info, error) {
	var info Info
	cr := &countingReader{r: in}
	ver, err := scan(cr, func(tag byte, body []byte) error {
		switch tag {
		case tagShard:
			info.Shards++
		case tagNode:
			info.Nodes++
		case tagJob:
			info.Jobs++
		case tagFlow:
			info.Flows++
		case tagPayment:
			info.Payments++
		case tagToken:
			info.Tokens++
		case tagGlobal:
			return unmarshal(body, &info.Global)
		case tagMeta:
			return unmarshal(body, &info.Meta)
		case tagCollected:
			return unmarshal(body, &info.Collected)
		case tagTomb:
			info.Tombs++
		case tagRegion:
			info.Regions++
		case tagHandOff:
			info.HandOffs++
		case tagHandIn:
			info.HandIns++
		case tagShardCounts, tagNodeCounts, tagPolicy:
		default:
			return fmt.Errorf("unknown record tag %d", tag)
		}
		return nil
	})
	info.Version = ver
	info.Bytes = cr.n
	return info, err
}

// Job records are most of a snapshot. The scanner copies their bodies into
// chunks and workers decode the chunks in parallel; chunks are joined back in
// stream order.
const (
	chunkJobs  = 4096
	chunkBytes = 256 << 10
)

type jobChunk struct {
	data []byte
	ends []int
	jobs []*state.Job
	err  error
}

func (c *jobChunk) decode(in *state.Interner) {
	start := 0
	c.jobs = make([]*state.Job, 0, len(c.ends))
	for _, end := range c.ends {
		j := &state.Job{}
		rest, err := in.UnmarshalJob(c.data[start:end], j)
		if err == nil && len(rest) != 0 {
			err = fmt.Errorf("%d trailing bytes", len(rest))
		}
		if err != nil {
			c.err = fmt.Errorf("job record %d of chunk: %w", len(c.jobs), err)
			break
		}
		c.jobs = append(c.jobs, j)
		start = end
	}
	c.data, c.ends = nil, nil
}

type jobDecoder struct {
	cur       *jobChunk
	chunks    []*jobChunk
	work      chan *jobChunk
	wg        sync.WaitGroup
	interners []*state.Interner
}

func newJobDecoder() *jobDecoder {
	n := min(runtime.GOMAXPROCS(0), 4)
	d := &jobDecoder{work: make(chan *jobChunk, 2*n)}
	for i := 0; i < n; i++ {
		in := state.NewInterner()
		d.interners = append(d.interners, in)
		d.wg.Go(func() {
			for c := range d.work {
				c.decode(in)
			}
		})
	}
	return d
}

func (d *jobDecoder) add(body []byte) {
	if d.cur != nil && (len(d.cur.ends) == chunkJobs || len(d.cur.data)+len(body) > cap(d.cur.data)) {
		d.flush()
	}
	if d.cur == nil {
		d.cur = &jobChunk{data: make([]byte, 0, max(chunkBytes, len(body))), ends: make([]int, 0, chunkJobs)}
	}
	d.cur.data = append(d.cur.data, body...)
	d.cur.ends = append(d.cur.ends, len(d.cur.data))
}

func (d *jobDecoder) flush() {
	if d.cur != nil {
		d.chunks = append(d.chunks, d.cur)
		d.work <- d.cur
		d.cur = nil
	}
}

// finish waits for the workers and returns the jobs in stream order.
func (d *jobDecoder) finish() ([]*state.Job, error) {
	d.flush()
	close(d.work)
	d.wg.Wait()
	n := 0
	for _, c := range d.chunks {
		if c.err != nil {
			return nil, c.err
		}
		n += len(c.jobs)
	}
	jobs := make([]*state.Job, 0, n)
	for _, c := range d.chunks {
		jobs = append(jobs, c.jobs...)
	}
	return jobs, nil
}
