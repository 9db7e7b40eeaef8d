// Package eventlog is planetary's on-disk event log: the derived, hash-chained
// record of every state change, written outside Apply.
//
// The FSM hands each applied entry's events to Append, which only buffers
// them. A writer goroutine appends them as NDJSON lines to segment files named
// by the first sequence number they hold (events-<seq>.ndjson), flushes after
// every batch and fsyncs when a caller asks through Sync (the FSM does before
// every snapshot, so raft log compaction never outruns the writer) or at least
// every FsyncInterval.
//
// After a crash the unflushed tail is lost; raft replays its log through the
// FSM, which regenerates the same events, and Append skips every sequence
// number already on disk. When a follower installs a snapshot the next event
// it sees may jump ahead; the log then writes an anchor record {seq-1, prev
// hash} so chain verification can restart from it.
//
// A write or fsync that fails (a full disk) does not stop the log: the
// writer truncates the segment back to the last offset it knows to be good,
// keeps every event it has not written for sure, and retries with a backoff
// until a write succeeds; Append keeps buffering meanwhile, so nothing
// accepted is lost or written twice and the chain continues unbroken.
//
// Readers use Read (paging by sequence number), Wait (block for new events),
// Head and Anchors. A bounded in-memory tail serves streaming readers without
// touching the disk.
package eventlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/raftfsm/state"
)

// Errors returned by the log.
var (
	// ErrClosed is returned by calls on a closed log.
	ErrClosed = errors.New("eventlog: closed")
	// ErrCorrupt is returned when a segment holds a line that cannot be parsed
	// anywhere but at the very end of the newest segment.
	ErrCorrupt = errors.New("eventlog: corrupt segment")
	// ErrHole names a range of events the log does not hold and cannot get
	// back: its tail was lost (torn or truncated) and the raft log that
	// would regenerate it is already covered by a snapshot, so the next
	// event delivered comes after the gap. Verification restarts at an
	// anchor after it.
	ErrHole = errors.New("eventlog: hole in the event log")
	// ErrLost is the writer's error once a failed fsync lost events it
	// had written (they no longer read back): the log writes nothing more
	// until a restart, whose raft replay regenerates them.
	ErrLost = errors.New("eventlog: a failed fsync lost written events; restart the agent to write them again")
)

const (
	segPrefix = "events-"
	segSuffix = ".ndjson"
	// indexEvery is the spacing of the sparse (seq -> byte offset) index kept
	// per segment.
	indexEvery = 1024
	// maxSpare bounds the pending batch the writer keeps for reuse.
	maxSpare = 1 << 16
)

// File is an open segment as the writer uses it (an *os.File).
// Config.WrapFile may wrap it to inject faults.
type File interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Config configures a Log.
type Config struct {
	// Dir holds the segment files; it is created if missing.
	Dir    string
	Logger hclog.Logger
	// SegmentBytes rotates to a new segment file once the current one is
	// larger than this.
	SegmentBytes int64
	// TailEvents bounds the in-memory tail used by streaming readers.
	TailEvents int
	// FsyncInterval bounds how long written events stay un-fsynced when no
	// caller asks for durability.
	FsyncInterval time.Duration
	// Retention bounds the closed segments kept (see retention.go); the
	// zero value keeps every segment.
	Retention Retention
	// Now is the clock segment ages are measured with (default time.Now).
	Now func() time.Time
	// RetryInterval is the wait before the writer attempts a failed write
	// (a full disk) again; it doubles with each failure after it, up to
	// RetryMax.
	RetryInterval time.Duration
	RetryMax      time.Duration
	// WrapFile, when set, wraps each segment file the writer opens (fault
	// injection in tests: a file on a full disk). nil in use.
	WrapFile func(File) File
}

// DefaultConfig returns the defaults for a log in dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:           dir,
		SegmentBytes:  64 << 20,
		TailEvents:    1 << 16,
		FsyncInterval: 500 * time.Millisecond,
		RetryInterval: 50 * time.Millisecond,
		RetryMax:      2 * time.Second,
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("eventlog: Dir is required")
	case c.SegmentBytes <= 0:
		return errors.New("eventlog: SegmentBytes must be positive")
	case c.TailEvents <= 0:
		return errors.New("eventlog: TailEvents must be positive")
	case c.FsyncInterval <= 0:
		return errors.New("eventlog: FsyncInterval must be positive")
	case c.RetryInterval <= 0:
		return errors.New("eventlog: RetryInterval must be positive")
	case c.RetryMax < c.RetryInterval:
		return errors.New("eventlog: RetryMax must be at least RetryInterval")
	}
	return c.Retention.Validate()
}

// Anchor is a point where chain verification (re)starts: the next event in the
// log has Seq+1 and Prev == Hash.
type Anchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"` // hex
}

// record is one NDJSON line: an event, or an anchor when Anchor is set (then
// only Seq and Hash are meaningful).
type record struct {
	Anchor bool `json:"anchor,omitempty"`
	state.Event
}

type indexPoint struct {
	seq uint64
	off int64
}

type segment struct {
	first uint64 // from the file name: the first seq the segment may hold
	path  string
	// index is a sparse seq->offset index, every indexEvery events.
	index []indexPoint
	// events, last and lastHash describe the events the segment holds;
	// they are final once the segment is closed (not the newest).
	events   uint64
	last     uint64
	lastHash string
}

// Log is the on-disk event log. It implements raftfsm.EventSink.
type Log struct {
	cfg    Config
	logger hclog.Logger

	mu sync.Mutex
	// changed is closed and replaced whenever appended/written/durable moves.
	changed chan struct{}
	closed  bool

	// Append side.
	appended     uint64 // highest seq accepted by Append
	appendedHash string
	pending      []pendingItem
	spare        []pendingItem // the writer's last batch, emptied, for reuse
	tail         ring          // contiguous seqs, at most TailEvents
	anchors      []Anchor      // every anchor in the log, oldest first
	firstSeq     uint64        // first event seq in the log (0 = empty)

	// Writer side (guarded by mu for readers).
	written  uint64 // highest seq flushed to the OS
	durable  uint64 // highest seq fsynced
	syncWant uint64 // highest seq some Sync caller waits for
	// writeErr is the error of the writer's last attempt while it fails
	// and retries; nil once a write succeeds again.
	writeErr error
	// lost is set (wrapping ErrLost) when a failed fsync lost written
	// events: nothing more is buffered or written.
	lost error
	segs []*segment

	wake chan struct{}
	done chan struct{}
	// resetReq asks the writer to set the current segments aside (a rewound
	// chain); the reply is the result.
	resetReq chan chan error
	// dupChecked is set once the first re-delivered event of a run of
	// duplicates was compared with the log (see forked).
	dupChecked bool

	// Retention (retention.go): covered is the chain head of the newest
	// durable raft snapshot; pruned what was removed so far.
	covered   Anchor
	pruned    RetentionState
	pruneWake chan struct{}
	pruneDone chan struct{}
	// pruneMu serialises a prune with setAside.
	pruneMu sync.Mutex

	// Owned by the writer goroutine.
	f File
	// curEvents, curLast and curHash describe the open segment's events.
	curEvents uint64
	curLast   uint64
	curHash   string
	bw        *bufio.Writer
	size      int64
	sinceIx   int
	dirty     bool
	buf       []byte // one encoded line, reused
	// encoded is the highest event seq handed to bw.
	encoded uint64
	// flushed is the point after the last successful flush, where a failed
	// write rolls back to; synced the point of the last fsync, where a
	// failed fsync does.
	synced  mark
	flushed mark
	// torn is set when the open segment may hold bytes past flushed.size
	// (a failed write): the next attempt truncates them first.
	torn bool
	// retry holds the items a failed attempt did not write for sure; the
	// next attempt writes them before anything pending.
	retry []pendingItem
	// backoff is the wait before the next attempt while writes fail.
	backoff time.Duration
}

// mark is a point in the open segment the writer can roll back to: the
// file's size there and the writer's counters.
type mark struct {
	size      int64
	sinceIx   int
	index     int // entries of the open segment's sparse index
	curEvents uint64
	curLast   uint64
	curHash   string
	encoded   uint64
}

type pendingItem struct {
	anchor *Anchor
	ev     state.Event
}

// Open opens (or creates) the event log in dir with default settings.
func Open(dir string, logger hclog.Logger) (*Log, error) {
	cfg := DefaultConfig(dir)
	cfg.Logger = logger
	return New(cfg)
}

// New opens (or creates) the event log described by cfg. It scans the newest
// segment to find the last sequence number and hash written, truncating a torn
// last line left by a crash.
func New(cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("eventlog: create dir: %w", err)
	}
	l := &Log{
		cfg:       cfg,
		logger:    cfg.Logger.Named("eventlog"),
		changed:   make(chan struct{}),
		wake:      make(chan struct{}, 1),
		resetReq:  make(chan chan error),
		done:      make(chan struct{}),
		tail:      newRing(cfg.TailEvents),
		pruneWake: make(chan struct{}, 1),
		pruneDone: make(chan struct{}),
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	go l.writer()
	go l.pruner()
	return l, nil
}

func segName(first uint64) string {
	return fmt.Sprintf("%s%020d%s", segPrefix, first, segSuffix)
}

func (l *Log) load() error {
	ents, err := os.ReadDir(l.cfg.Dir)
	if err != nil {
		return fmt.Errorf("eventlog: read dir: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, segPrefix) || !strings.HasSuffix(n, segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, segPrefix), segSuffix), 10, 64)
		if err != nil {
			continue
		}
		l.segs = append(l.segs, &segment{first: first, path: filepath.Join(l.cfg.Dir, n)})
	}
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i].first < l.segs[j].first })
	if err := l.loadRetention(); err != nil {
		return err
	}

	// Every segment is scanned once: it yields the sparse index, the anchors
	// and, from the newest, the head.
	for i, sg := range l.segs {
		last := i == len(l.segs)-1
		res, err := scanSegment(sg, last)
		if err != nil {
			return err
		}
		sg.events, sg.last, sg.lastHash = res.events, res.lastEvent, res.lastEventHash
		if l.firstSeq == 0 && res.firstEvent != 0 {
			l.firstSeq = res.firstEvent
			if l.pruned.PrunedSegments > 0 && !res.anchorFirst {
				// Verification starts at the persisted retention anchor
				// (a segment that starts with an anchor record starts
				// there itself).
				l.anchors = append(l.anchors, l.pruned.Anchor)
				if res.firstEvent != l.pruned.Anchor.Seq+1 || res.firstPrev != l.pruned.Anchor.Hash {
					l.logger.Warn("event log does not continue from its retention anchor",
						"anchor_seq", l.pruned.Anchor.Seq, "first_seq", res.firstEvent)
				}
			} else if !res.anchorFirst {
				// The log starts with an event: its predecessor is the
				// implicit first anchor ({0, zero hash} at genesis).
				l.anchors = append(l.anchors, Anchor{Seq: res.firstEvent - 1, Hash: res.firstPrev})
			}
		}
		l.anchors = append(l.anchors, res.anchors...)
		if res.lastSeq != 0 {
			l.appended, l.appendedHash = res.lastSeq, res.lastHash
		}
		if last {
			if res.torn {
				l.logger.Warn("truncating torn tail of event log", "segment", sg.path, "offset", res.goodSize)
				if err := os.Truncate(sg.path, res.goodSize); err != nil {
					return fmt.Errorf("eventlog: truncate torn tail: %w", err)
				}
			}
			l.size = res.goodSize
			l.sinceIx = res.sinceIndex
			l.curEvents, l.curLast, l.curHash = res.events, res.lastEvent, res.lastEventHash
		}
	}
	l.written, l.durable = l.appended, l.appended
	if len(l.segs) > 0 {
		sg := l.segs[len(l.segs)-1]
		f, err := os.OpenFile(sg.path, os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("eventlog: open segment: %w", err)
		}
		l.f = l.wrap(f)
		l.bw = bufio.NewWriterSize(l.f, 256<<10)
	}
	l.encoded = l.written
	l.synced = l.markHere()
	l.flushed = l.synced
	if l.appended > 0 {
		l.logger.Debug("event log opened", "last_seq", l.appended, "segments", len(l.segs))
	}
	return nil
}

type scanResult struct {
	anchors     []Anchor
	firstEvent  uint64
	firstPrev   string
	anchorFirst bool // an anchor record precedes the first event
	lastSeq     uint64
	lastHash    string
	goodSize    int64
	torn        bool
	sinceIndex  int
	// events counts the events (not anchors); lastEvent is the last one.
	events        uint64
	lastEvent     uint64
	lastEventHash string
}

// scanSegment reads a whole segment, building its sparse index. A bad line is
// tolerated only at the end of the newest segment (a torn write).
//
// Only the first event, anchors, the newest segment's last line and lines
// in another layout are decoded; every other line is an event in
// appendRecord's layout whose seq and hash are read in place (peekRecord),
// which makes opening a log of hundreds of MB about four times cheaper.
// Readers decode those lines in full when they serve them, and the hash
// chain (ledger verify) checks their content.
func scanSegment(sg *segment, newest bool) (scanResult, error) {
	var res scanResult
	f, err := os.Open(sg.path)
	if err != nil {
		return res, fmt.Errorf("eventlog: open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("eventlog: stat segment: %w", err)
	}
	size := fi.Size()
	br := bufio.NewReaderSize(f, 256<<10)
	var (
		off      int64
		long     []byte
		lastHash [64]byte // the last record's hash, kept without a string per line
		evHash   [64]byte // the last event's
		hashLen  int
		evLen    int
	)
	sg.index = sg.index[:0]
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 && (err != nil || line[len(line)-1] != '\n') {
			// No newline: a torn last write.
			if !newest {
				return res, fmt.Errorf("%w: %s: unterminated line at offset %d", ErrCorrupt, sg.path, off)
			}
			res.torn = true
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("eventlog: read segment: %w", err)
		}
		var (
			seq    uint64
			anchor bool
			hash   []byte
		)
		// The last line of the newest segment may be a torn write: it is
		// decoded in full.
		lastLine := newest && off+int64(len(line)) >= size
		if s, h, ok := peekRecord(line); ok && !lastLine && res.firstEvent != 0 {
			seq, hash = s, h
		} else {
			r, jerr := decodeRecord(line)
			if jerr != nil {
				// A garbled line is only acceptable as the last one written.
				if newest {
					if _, perr := br.Peek(1); perr == io.EOF {
						res.torn = true
						break
					}
				}
				return res, fmt.Errorf("%w: %s: offset %d: %v", ErrCorrupt, sg.path, off, jerr)
			}
			seq, anchor, hash = r.Seq, r.Anchor, []byte(r.Hash)
			if anchor {
				res.anchors = append(res.anchors, Anchor{Seq: r.Seq, Hash: r.Hash})
				if res.firstEvent == 0 {
					res.anchorFirst = true
				}
			} else if res.firstEvent == 0 {
				res.firstEvent, res.firstPrev = r.Seq, r.Prev
			}
		}
		if !anchor {
			if n%indexEvery == 0 {
				sg.index = append(sg.index, indexPoint{seq: seq, off: off})
			}
			n++
			res.events++
			res.lastEvent = seq
			evLen = copy(evHash[:], hash)
		}
		res.lastSeq = seq
		hashLen = copy(lastHash[:], hash)
		off += int64(len(line))
		res.goodSize = off
	}
	if res.lastSeq != 0 {
		res.lastHash = string(lastHash[:hashLen])
	}
	if res.events > 0 {
		res.lastEventHash = string(evHash[:evLen])
	}
	res.goodSize = off
	res.sinceIndex = n % indexEvery
	return res, nil
}

// peekRecord reads the seq and hash of an event line in appendRecord's
// layout, {"seq":N,...,"hash":"<64 hex>"}, without decoding the rest. ok is
// false for an anchor or any other shape (decodeRecord handles those).
func peekRecord(line []byte) (seq uint64, hash []byte, ok bool) {
	b := bytes.TrimRight(line, "\r\n")
	rest, found := bytes.CutPrefix(b, []byte(`{"seq":`))
	if !found {
		return 0, nil, false
	}
	i := 0
	for ; i < len(rest) && i < 20 && rest[i] >= '0' && rest[i] <= '9'; i++ {
		seq = seq*10 + uint64(rest[i]-'0')
	}
	if i == 0 || i >= 20 || i >= len(rest) || rest[i] != ',' {
		return 0, nil, false
	}
	const tail = len(`,"hash":"`) + 64 + len(`"}`)
	if len(rest)-i < tail {
		return 0, nil, false
	}
	t := rest[len(rest)-tail:]
	if !bytes.HasPrefix(t, []byte(`,"hash":"`)) || !bytes.HasSuffix(t, []byte(`"}`)) {
		return 0, nil, false
	}
	hash = t[len(`,"hash":"`) : len(`,"hash":"`)+64]
	for _, c := range hash {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, nil, false
		}
	}
	return seq, hash, true
}

// Append buffers events for the writer. It does not block on I/O, except
// once after a snapshot restore rewound the chain (see below).
//
// Events with a seq at or below the last one accepted are skipped: a replay
// regenerating what is already on disk. A jump ahead, or a next event whose
// Prev is not the head's hash, records an anchor first. When the first
// re-delivered event differs from the one the log holds at that seq, the
// chain was rewound to a different history (an operator restored an older
// snapshot): the current segments are moved to forked-<head>/ and the log
// starts over from an anchor.
func (l *Log) Append(evs []state.Event) {
	if len(evs) == 0 {
		return
	}
	if l.forked(evs[0]) {
		if err := l.startOver(); err != nil {
			l.logger.Error("set aside rewound event log", "error", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	added := false
	for i := range evs {
		ev := evs[i]
		if ev.Seq <= l.appended {
			continue
		}
		l.dupChecked = false
		a := Anchor{Seq: ev.Seq - 1, Hash: ev.Prev}
		switch {
		case ev.Seq != l.appended+1 || (l.appended > 0 && ev.Prev != l.appendedHash):
			// A jump (a follower installed a snapshot, the log starts
			// mid-chain, or a restore continued from another history):
			// record where verification restarts.
			if l.appended > 0 && ev.Seq > l.appended+1 {
				l.logger.Warn("event log has a hole the raft log no longer covers; writing anchor",
					"error", fmt.Errorf("%w: events %d to %d are missing", ErrHole, l.appended+1, ev.Seq-1),
					"first_missing", l.appended+1, "last_missing", ev.Seq-1, "anchor_seq", a.Seq)
			} else {
				l.logger.Info("event chain discontinuity; writing anchor", "after", l.appended, "anchor_seq", a.Seq)
			}
			l.tail.reset()
			if l.lost == nil {
				l.pending = append(l.pending, pendingItem{anchor: &a})
			}
			l.anchors = append(l.anchors, a)
		case l.firstSeq == 0:
			// Genesis: the implicit anchor {0, zero hash}.
			l.anchors = append(l.anchors, a)
		}
		if l.firstSeq == 0 {
			l.firstSeq = ev.Seq
		}
		if l.pending == nil && l.spare != nil {
			l.pending, l.spare = l.spare, nil
		}
		if l.lost == nil {
			l.pending = append(l.pending, pendingItem{ev: ev})
		}
		l.appended, l.appendedHash = ev.Seq, ev.Hash
		l.tail.push(&evs[i])
		added = true
	}
	if added {
		l.broadcastLocked()
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// forked reports whether ev, re-delivered at or below the head, differs
// from the event the log holds at its seq. Only the first event of a run of
// duplicates is compared, so a crash replay costs one lookup.
func (l *Log) forked(ev state.Event) bool {
	l.mu.Lock()
	if l.closed || ev.Seq > l.appended || l.dupChecked || ev.Seq == 0 {
		l.mu.Unlock()
		return false
	}
	l.dupChecked = true
	l.mu.Unlock()
	got, err := l.Read(ev.Seq-1, 1)
	if err != nil || len(got) == 0 || got[0].Seq != ev.Seq {
		return false // before the log's start: cannot tell, keep the log
	}
	return got[0].Hash != ev.Hash
}

// startOver has the writer flush and set aside every segment, then resets
// the head so the next event starts from an anchor.
func (l *Log) startOver() error {
	reply := make(chan error, 1)
	select {
	case l.resetReq <- reply:
	case <-l.done:
		return ErrClosed
	}
	err := <-reply
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logger.Warn("event chain rewound by a restore; old log set aside", "old_head", l.appended)
	l.appended, l.appendedHash, l.firstSeq = 0, "", 0
	l.anchors = nil
	l.tail.reset()
	l.dupChecked = false
	l.broadcastLocked()
	return err
}

// setAside runs on the writer: it writes what is pending, closes the
// segment and moves every segment into forked-<head>/. It makes one
// attempt: a restore reaches the FSM only after raft wrote the snapshot
// to the same disk, and the FSM waits for the answer.
func (l *Log) setAside() error {
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	if err := l.write(batch, true); err != nil {
		return err
	}
	l.pruneMu.Lock()
	defer l.pruneMu.Unlock()
	l.mu.Lock()
	head := l.appended
	l.mu.Unlock()
	if l.f != nil {
		err := l.f.Close()
		l.f = nil
		if err != nil {
			return fmt.Errorf("eventlog: close segment: %w", err)
		}
	}
	dst := filepath.Join(l.cfg.Dir, fmt.Sprintf("forked-%020d", head))
	for i := 1; ; i++ {
		if _, err := os.Stat(dst); os.IsNotExist(err) {
			break
		}
		dst = filepath.Join(l.cfg.Dir, fmt.Sprintf("forked-%020d.%d", head, i))
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("eventlog: set aside: %w", err)
	}
	l.mu.Lock()
	segs := l.segs
	l.segs = nil
	l.written, l.durable = 0, 0
	l.mu.Unlock()
	for _, sg := range segs {
		if err := os.Rename(sg.path, filepath.Join(dst, filepath.Base(sg.path))); err != nil {
			return fmt.Errorf("eventlog: set aside: %w", err)
		}
	}
	l.size, l.sinceIx, l.dirty, l.encoded = 0, 0, false, 0
	l.curEvents, l.curLast, l.curHash = 0, 0, ""
	l.synced, l.flushed = mark{}, mark{}
	if err := l.setAsideRetention(dst); err != nil {
		return err
	}
	return syncDir(l.cfg.Dir)
}

func (l *Log) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Sync blocks until every event with a seq <= seq that was appended is
// fsynced. It returns at once for a seq never appended beyond the head, and
// with the write error while the writer fails and retries (a full disk):
// a caller that needs durability, such as a raft snapshot, fails and tries
// again later.
func (l *Log) Sync(seq uint64) error {
	l.mu.Lock()
	if seq > l.appended {
		seq = l.appended
	}
	if seq > l.syncWant {
		l.syncWant = seq
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	for {
		if l.durable >= seq {
			l.mu.Unlock()
			return nil
		}
		if l.writeErr != nil {
			err := l.writeErr
			l.mu.Unlock()
			return err
		}
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		ch := l.changed
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
	}
}

// WriteErr is the error of the writer's last attempt while writes fail and
// it retries (ENOSPC on a full disk), nil while they succeed.
func (l *Log) WriteErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writeErr
}

// Head returns the last sequence number accepted and its hash (hex).
func (l *Log) Head() (uint64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appended, l.appendedHash
}

// Durable returns the highest fsynced sequence number.
func (l *Log) Durable() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// Anchors returns every verification anchor in the log, oldest first. The
// first is where verification of the log starts ({0, zero hash} for a log that
// begins at genesis).
func (l *Log) Anchors() []Anchor {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Anchor(nil), l.anchors...)
}

// Anchor returns the first anchor; ok is false for an empty log.
func (l *Log) Anchor() (a Anchor, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.anchors) == 0 {
		return Anchor{}, false
	}
	return l.anchors[0], true
}

// Wait blocks until an event with a seq greater than after exists, or ctx
// ends.
func (l *Log) Wait(ctx context.Context, after uint64) error {
	for {
		l.mu.Lock()
		if l.appended > after {
			l.mu.Unlock()
			return nil
		}
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Read returns up to max events with seq > after in order. Events before the
// first one the log holds are skipped (a log that starts at an anchor). An
// empty result means no event after after exists yet.
func (l *Log) Read(after uint64, max int) ([]state.Event, error) {
	if max <= 0 {
		return nil, nil
	}
	l.mu.Lock()
	if l.appended <= after {
		l.mu.Unlock()
		return nil, nil
	}
	if n := l.tail.n; n > 0 && after+1 >= l.tail.at(0).Seq {
		i := int(after + 1 - l.tail.at(0).Seq)
		cnt := min(max, n-i)
		out := make([]state.Event, cnt)
		for k := range out {
			out[k] = *l.tail.at(i + k)
		}
		l.mu.Unlock()
		return out, nil
	}
	// Older than the tail: serve from disk, once the writer has flushed
	// past after (it is at most one batch behind while it writes).
	for l.written <= after && l.writeErr == nil && !l.closed {
		ch := l.changed
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
	}
	if l.written <= after && l.writeErr != nil {
		err := l.writeErr
		l.mu.Unlock()
		return nil, fmt.Errorf("eventlog: events after %d are not on disk yet: %w", after, err)
	}
	written, segs := l.written, l.segsLocked()
	l.mu.Unlock()
	return l.readDisk(after, max, written, segs)
}

// Scan calls fn with each event with seq > after, in order, up to max
// events, and returns how many it visited (0: no event after after exists
// yet). Events still in the in-memory tail are passed without a copy while
// the log's lock is held: fn must be quick, must not call the log, and must
// copy what it keeps. A filtering reader (the events API) thereby copies
// only the events it returns.
func (l *Log) Scan(after uint64, max int, fn func(*state.Event)) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	l.mu.Lock()
	if l.appended <= after {
		l.mu.Unlock()
		return 0, nil
	}
	if n := l.tail.n; n > 0 && after+1 >= l.tail.at(0).Seq {
		i := int(after + 1 - l.tail.at(0).Seq)
		cnt := min(max, n-i)
		for k := range cnt {
			fn(l.tail.at(i + k))
		}
		l.mu.Unlock()
		return cnt, nil
	}
	l.mu.Unlock()
	evs, err := l.Read(after, max)
	for i := range evs {
		fn(&evs[i])
	}
	return len(evs), err
}

func (l *Log) readDisk(after uint64, max int, written uint64, segs []segment) ([]state.Event, error) {
	// Start at the last segment whose first seq is <= after+1.
	start := 0
	for i := range segs {
		if segs[i].first <= after+1 {
			start = i
		}
	}
	var out []state.Event
	for i := start; i < len(segs) && len(out) < max; i++ {
		sg := &segs[i]
		var off int64
		for _, p := range sg.index {
			if p.seq <= after+1 {
				off = p.off
			}
		}
		evs, done, err := readSegment(sg.path, off, after, max-len(out), written)
		if err != nil {
			return out, err
		}
		out = append(out, evs...)
		if len(out) > 0 {
			after = out[len(out)-1].Seq
		}
		if done {
			break
		}
	}
	return out, nil
}

// readSegment reads events with seq > after from path starting at off, up to
// max events and never past written. done reports that reading should stop
// (written reached).
func readSegment(path string, off int64, after uint64, max int, written uint64) ([]state.Event, bool, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, false, fmt.Errorf("%w: %s", ErrPruned, filepath.Base(path))
	}
	if err != nil {
		return nil, false, fmt.Errorf("eventlog: open segment: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, false, fmt.Errorf("eventlog: seek: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var out []state.Event
	for len(out) < max {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, false, nil
		}
		if err != nil {
			return out, false, fmt.Errorf("eventlog: read segment: %w", err)
		}
		r, err := decodeRecord(line)
		if err != nil {
			return out, false, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		if r.Anchor || r.Seq <= after {
			continue
		}
		if r.Seq > written {
			return out, true, nil
		}
		out = append(out, r.Event)
	}
	return out, true, nil
}

// Close writes and fsyncs everything appended, then stops the writer.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.broadcastLocked()
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	<-l.pruneDone
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writeErr
}

// writer is the single goroutine that touches segment files for writing.
// While writes fail it attempts again after l.backoff only (or once more
// when the log closes), whatever is appended meanwhile.
func (l *Log) writer() {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.FsyncInterval)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		timed := false
		failing := l.backoff > 0
		var retryC <-chan time.Time
		if failing {
			retryC = retry.C
		}
		select {
		case <-l.wake:
			if failing && !l.isClosed() {
				continue
			}
		case <-tick.C:
			if failing {
				continue
			}
			timed = true
		case <-retryC:
		case reply := <-l.resetReq:
			err := l.setAside()
			if err != nil {
				l.noteWrite(err)
			}
			reply <- err
		}
		l.mu.Lock()
		batch := l.pending
		l.pending = nil
		closed := l.closed
		needSync := closed || timed || l.syncWant > l.durable
		l.mu.Unlock()

		err := l.write(batch, needSync)
		l.noteWrite(err)
		n := len(batch)
		reuse := cap(batch) > 0 && cap(batch) <= maxSpare
		if reuse {
			clear(batch) // drop the events' strings before keeping the array
		}
		l.mu.Lock()
		if reuse && l.spare == nil {
			l.spare = batch[:0]
		}
		synced := false
		if err == nil && needSync && l.durable < l.written {
			l.durable, synced = l.written, true
		}
		if n > 0 || synced || err != nil || failing {
			l.broadcastLocked()
		}
		more := len(l.pending) > 0
		l.mu.Unlock()
		if closed && (err != nil || !more) {
			// A log closing while writes fail gives up after this last
			// attempt: the raft log still holds what is lost (no
			// snapshot covered it, Sync failed) and regenerates it.
			if l.f != nil {
				if cerr := l.f.Close(); cerr != nil && err == nil {
					l.noteWrite(fmt.Errorf("eventlog: close segment: %w", cerr))
				}
				l.f = nil
			}
			return
		}
		if err != nil {
			retry.Reset(l.backoff)
			continue
		}
		if more {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// noteWrite records the outcome of a write attempt: the first failure is
// logged at ERROR and starts the backoff, which doubles with each failure
// after it up to RetryMax; the first success after failures is logged
// at INFO.
func (l *Log) noteWrite(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		if l.writeErr == nil {
			l.logger.Error("event log write failed; retrying until it succeeds",
				"dir", l.cfg.Dir, "written", l.written, "error", err)
			l.backoff = l.cfg.RetryInterval
		} else {
			l.backoff = min(2*l.backoff, l.cfg.RetryMax)
		}
		l.writeErr = err
	case l.writeErr != nil:
		l.logger.Info("event log writes succeed again", "dir", l.cfg.Dir, "written", l.written)
		l.writeErr, l.backoff = nil, 0
	}
}

// write writes what a failed attempt left in l.retry, then batch, and
// fsyncs when sync is set. After a failure every item it did not write for
// sure is in l.retry.
func (l *Log) write(batch []pendingItem, sync bool) error {
	l.mu.Lock()
	lost := l.lost
	l.mu.Unlock()
	if lost != nil {
		return lost
	}
	if len(l.retry) > 0 {
		batch = append(l.retry, batch...)
		l.retry = nil
	}
	if err := l.writeBatch(batch); err != nil {
		return err
	}
	if sync && l.dirty {
		if err := l.f.Sync(); err != nil {
			return l.syncFailed(fmt.Errorf("eventlog: fsync: %w", err), nil)
		}
		l.dirty = false
		l.synced = l.markHere()
		l.flushed = l.synced
	}
	return nil
}

// syncFailed handles a failed fsync of the open segment: the kernel may
// have dropped the bytes written since the last fsync, so they are read
// back and, when they still hold exactly the items written, truncated and
// written again before rest. Bytes that do not read back whole are lost
// to the log: it truncates them and stops (ErrLost) until a restart
// regenerates them from the raft log (no snapshot covers them, since
// Sync failed).
func (l *Log) syncFailed(err error, rest []pendingItem) error {
	items, rerr := l.readBack(l.synced, l.size)
	if rerr != nil {
		terr := l.f.Truncate(l.synced.size)
		l.rollback(l.synced, nil)
		l.torn = terr != nil
		l.retry = nil
		l.mu.Lock()
		l.lost = fmt.Errorf("%w (%v): %w", ErrLost, rerr, err)
		l.pending = nil
		lost := l.lost
		l.mu.Unlock()
		return lost
	}
	l.rollback(l.synced, append(items, rest...))
	return err
}

// readBack decodes the open segment's bytes from m to size and checks
// that they are the events the writer wrote since m (each hash sound,
// each event following the last, the count and the last one as written).
func (l *Log) readBack(m mark, size int64) ([]pendingItem, error) {
	if size == m.size {
		return nil, nil
	}
	f, err := os.Open(l.segs[len(l.segs)-1].path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, size-m.size)
	if _, err := f.ReadAt(b, m.size); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	var (
		items    []pendingItem
		events   uint64
		prevSeq  = m.curLast
		prevHash = m.curHash
	)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, errors.New("read back: unterminated line")
		}
		r, err := decodeRecord(b[:i+1])
		b = b[i+1:]
		if err != nil {
			return nil, fmt.Errorf("read back: %w", err)
		}
		if r.Anchor {
			a := Anchor{Seq: r.Seq, Hash: r.Hash}
			items = append(items, pendingItem{anchor: &a})
			prevSeq, prevHash = r.Seq, r.Hash
			continue
		}
		var prev [32]byte
		if _, err := hex.Decode(prev[:], []byte(r.Prev)); err != nil {
			return nil, fmt.Errorf("read back: event %d: prev: %w", r.Seq, err)
		}
		if h := r.Event.ComputeHash(prev); hex.EncodeToString(h[:]) != r.Hash {
			return nil, fmt.Errorf("read back: event %d: hash mismatch", r.Seq)
		}
		if prevHash != "" && (r.Seq != prevSeq+1 || r.Prev != prevHash) {
			return nil, fmt.Errorf("read back: event %d does not follow %d", r.Seq, prevSeq)
		}
		items = append(items, pendingItem{ev: r.Event})
		events++
		prevSeq, prevHash = r.Seq, r.Hash
	}
	if events != l.curEvents-m.curEvents || (events > 0 && (prevSeq != l.curLast || prevHash != l.curHash)) {
		return nil, fmt.Errorf("read back: %d events up to %d, wrote %d up to %d",
			events, prevSeq, l.curEvents-m.curEvents, l.curLast)
	}
	return items, nil
}

func (l *Log) wrap(f *os.File) File {
	if l.cfg.WrapFile != nil {
		return l.cfg.WrapFile(f)
	}
	return f
}

// markHere is the writer's current point in the open segment.
func (l *Log) markHere() mark {
	m := mark{
		size: l.size, sinceIx: l.sinceIx,
		curEvents: l.curEvents, curLast: l.curLast, curHash: l.curHash,
		encoded: l.encoded,
	}
	l.mu.Lock()
	if n := len(l.segs); n > 0 {
		m.index = len(l.segs[n-1].index)
	}
	l.mu.Unlock()
	return m
}

// rollback returns the writer to m after a failed write: retry (the items
// written since m, then the rest) is kept in l.retry, and the open segment
// is truncated to m's size before the next attempt writes (its tail may be
// torn). Readers keep what is before m.
func (l *Log) rollback(m mark, retry []pendingItem) {
	l.retry = append([]pendingItem(nil), retry...) // retry may be a batch the writer reuses
	l.size, l.sinceIx = m.size, m.sinceIx
	l.curEvents, l.curLast, l.curHash = m.curEvents, m.curLast, m.curHash
	l.encoded = m.encoded
	l.flushed = m
	if l.f != nil {
		l.torn = true
		l.bw.Reset(l.f)
	}
	l.mu.Lock()
	if n := len(l.segs); n > 0 && l.f != nil && len(l.segs[n-1].index) > m.index {
		// A new array: readers may hold the old one's entries.
		sg := l.segs[n-1]
		sg.index = append([]indexPoint(nil), sg.index[:m.index]...)
	}
	if l.written > m.encoded {
		l.written = m.encoded
	}
	l.mu.Unlock()
}

// flushedHere records a successful flush.
func (l *Log) flushedHere() {
	l.dirty = true
	l.flushed = l.markHere()
	l.mu.Lock()
	if l.encoded > l.written {
		l.written = l.encoded
	}
	l.mu.Unlock()
}

// writeBatch appends batch to the segments and flushes it. A failed write
// rolls the writer back to the last flush, a rotation's failed fsync to
// the last fsync (see syncFailed).
func (l *Log) writeBatch(batch []pendingItem) error {
	if l.torn {
		if err := l.f.Truncate(l.flushed.size); err != nil {
			l.rollback(l.flushed, batch)
			return fmt.Errorf("eventlog: truncate a failed write: %w", err)
		}
		l.torn = false
	}
	from := 0 // the first item not flushed yet
	for i := range batch {
		it := &batch[i]
		first := it.ev.Seq
		if it.anchor != nil {
			first = it.anchor.Seq + 1
		}
		if l.f != nil && l.size >= l.cfg.SegmentBytes {
			if err := l.bw.Flush(); err != nil {
				l.rollback(l.flushed, batch[from:])
				return fmt.Errorf("eventlog: flush: %w", err)
			}
			l.flushedHere()
			from = i
			if err := l.f.Sync(); err != nil {
				return l.syncFailed(fmt.Errorf("eventlog: fsync: %w", err), batch[i:])
			}
			if err := l.closeSegment(); err != nil {
				l.rollback(l.synced, batch[i:])
				return err
			}
		}
		if l.f == nil {
			if err := l.createSegment(first); err != nil {
				l.rollback(l.synced, batch[i:])
				return err
			}
		}
		if it.anchor != nil {
			l.buf = appendRecord(l.buf[:0], true, &state.Event{Seq: it.anchor.Seq, Hash: it.anchor.Hash})
		} else {
			l.buf = appendRecord(l.buf[:0], false, &it.ev)
		}
		if _, err := l.bw.Write(l.buf); err != nil {
			l.rollback(l.flushed, batch[from:])
			return fmt.Errorf("eventlog: write: %w", err)
		}
		if it.anchor == nil {
			l.curEvents++
			l.curLast, l.curHash = it.ev.Seq, it.ev.Hash
			l.encoded = it.ev.Seq
			if l.sinceIx == 0 {
				l.mu.Lock()
				sg := l.segs[len(l.segs)-1]
				sg.index = append(sg.index, indexPoint{seq: it.ev.Seq, off: l.size})
				l.mu.Unlock()
			}
			l.sinceIx = (l.sinceIx + 1) % indexEvery
		}
		l.size += int64(len(l.buf))
	}
	if from == len(batch) {
		return nil
	}
	if err := l.bw.Flush(); err != nil {
		l.rollback(l.flushed, batch[from:])
		return fmt.Errorf("eventlog: flush: %w", err)
	}
	l.flushedHere()
	return nil
}

// closeSegment closes the open segment, flushed and fsynced: nothing in it
// is written again.
func (l *Log) closeSegment() error {
	l.dirty = false
	l.mu.Lock()
	if n := len(l.segs); n > 0 {
		sg := l.segs[n-1]
		sg.events, sg.last, sg.lastHash = l.curEvents, l.curLast, l.curHash
	}
	l.mu.Unlock()
	err := l.f.Close()
	l.f = nil
	l.synced = l.markHere()
	l.flushed = l.synced
	l.wakePruner()
	if err != nil {
		return fmt.Errorf("eventlog: close segment: %w", err)
	}
	return nil
}

// createSegment starts a new segment whose name carries first.
func (l *Log) createSegment(first uint64) error {
	path := filepath.Join(l.cfg.Dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("eventlog: create segment: %w", err)
	}
	if err := syncDir(l.cfg.Dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	l.f, l.size, l.sinceIx = l.wrap(f), 0, 0
	l.curEvents, l.curLast, l.curHash = 0, 0, ""
	if l.bw == nil {
		l.bw = bufio.NewWriterSize(l.f, 256<<10)
	} else {
		l.bw.Reset(l.f)
	}
	l.mu.Lock()
	l.segs = append(l.segs, &segment{first: first, path: path})
	l.mu.Unlock()
	l.synced = l.markHere()
	l.flushed = l.synced
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("eventlog: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("eventlog: fsync dir: %w", err)
	}
	return nil
}

// segsLocked copies the segment list, for a read outside l.mu; the caller
// holds l.mu.
func (l *Log) segsLocked() []segment {
	segs := make([]segment, len(l.segs))
	for i, sg := range l.segs {
		segs[i] = *sg
	}
	return segs
}
