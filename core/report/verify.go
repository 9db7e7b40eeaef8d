package report

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/planetary/planetary/raftfsm/state"
)

// Verification failures. Verify wraps exactly one of them.
var (
	// ErrChain means an event does not follow from the one before it:
	// unreadable line, sequence gap, wrong prev link or wrong hash.
	ErrChain = errors.New("event chain broken")
	// ErrHead means the log does not end at the head anchored in ledger.json
	// (a truncated log, or a log re-hashed after a forged event).
	ErrHead = errors.New("event log does not reach the anchored chain head")
	// ErrLedger means the ledger recomputed from the events differs from
	// ledger.json, or an event is an impossible job transition.
	ErrLedger = errors.New("ledger does not match the events")
	// ErrInvariant means a ledger invariant does not hold.
	ErrInvariant = errors.New("ledger invariant violated")
)

// VerifyResult describes what Verify checked and the first problem found.
type VerifyResult struct {
	Dir    string `json:"dir"`
	Events int    `json:"events"`
	Anchor Anchor `json:"anchor"`
	// Head is the last event that verified; Recorded the head in ledger.json.
	Head     Anchor `json:"head"`
	Recorded Anchor `json:"recorded"`
	ChainOK  bool   `json:"chain_ok"`
	// LedgerChecked is false when the log starts after genesis: totals
	// cannot be rebuilt from a partial log, so only the chain is verified.
	LedgerChecked bool `json:"ledger_checked"`
	LedgerOK      bool `json:"ledger_ok"`
	// Pruned is what event retention removed before Anchor (ledger.json).
	Pruned *Pruned `json:"pruned,omitempty"`
	// BadSeq is the first bad event (0 when none); BadLine its line in
	// events.ndjson (1-based, 0 when the problem is a missing event).
	BadSeq  uint64 `json:"bad_seq,omitempty"`
	BadLine int    `json:"bad_line,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Problems lists every ledger mismatch and failed invariant.
	Problems []string `json:"problems,omitempty"`
	// Regions is the number of regions in the bundle's global ledger (0
	// for a bundle written before it); GlobalOK says that the global
	// totals are their checkpoints' sum and the local region's checkpoint
	// is the bundle's ledger.
	Regions  int  `json:"regions,omitempty"`
	GlobalOK bool `json:"global_ok,omitempty"`
}

// OK reports whether the bundle verified completely.
func (r VerifyResult) OK() bool { return r.ChainOK && r.Reason == "" && len(r.Problems) == 0 }

// Verify checks a bundle offline: it recomputes the hash chain of
// events.ndjson from the anchor in ledger.json, checks that it ends at the
// anchored head, rebuilds the ledger from the events alone and compares it
// with ledger.json, and checks the invariants. The error wraps ErrChain,
// ErrHead, ErrLedger or ErrInvariant and names the first bad event.
func Verify(dir string) (res VerifyResult, err error) {
	res = VerifyResult{Dir: dir}
	var led LedgerDoc
	if err := readJSON(filepath.Join(dir, FileLedger), &led); err != nil {
		return res, err
	}
	led.Anchor, led.Chain = normAnchor(led.Anchor), normAnchor(led.Chain)
	res.Anchor, res.Recorded, res.Head = led.Anchor, led.Chain, led.Anchor
	res.Pruned = led.Pruned
	var cp CheckpointDoc
	if err := readJSON(filepath.Join(dir, FileCheckpoint), &cp); err == nil {
		if cp.Anchor.Hash != "" && normAnchor(cp.Anchor) != led.Anchor {
			return res, fail(&res, ErrChain, 0, 0, fmt.Sprintf("checkpoint.json anchor %d/%s differs from ledger.json anchor %d/%s",
				cp.Anchor.Seq, short(cp.Anchor.Hash), led.Anchor.Seq, short(led.Anchor.Hash)))
		}
	}
	prev, err := hex.DecodeString(led.Anchor.Hash)
	if err != nil || len(prev) != 32 {
		return res, fail(&res, ErrChain, 0, 0, "ledger.json anchor hash is not 32 hex bytes")
	}
	var prevHash [32]byte
	copy(prevHash[:], prev)

	f, err := os.Open(filepath.Join(dir, FileEvents))
	if err != nil {
		return res, fmt.Errorf("report: verify: %w", err)
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<20)
	// The recorded ledger counts every job: size the replay for them.
	var jobs int64
	for _, cv := range led.Global {
		jobs += max(cv.Jobs, 0)
	}
	rp := newReplaySized(int(min(jobs, int64(led.Chain.Seq-min(led.Anchor.Seq, led.Chain.Seq)), 1<<24)))
	dec := newLineDecoder()
	var hx [64]byte // hex of a hash, compared without a string
	marks := make(map[uint64]string, len(led.Marks))
	for _, m := range led.Marks {
		marks[m.Seq] = m.Hash
	}
	var lastMark uint64 = led.Anchor.Seq
	genesis := led.Anchor.Seq == 0
	seq := led.Anchor.Seq
	// res.Head is the last event that verified: its hash is prevHash.
	setHead := func() {
		if seq > led.Anchor.Seq {
			res.Head = Anchor{Seq: seq, Hash: hex.EncodeToString(prevHash[:])}
		}
	}
	defer setHead()
	line := 0
	var long []byte
	for {
		raw, rerr := rd.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			// A line longer than the buffer: gather it.
			long = append(long[:0], raw...)
			for rerr == bufio.ErrBufferFull {
				raw, rerr = rd.ReadSlice('\n')
				long = append(long, raw...)
			}
			raw = long
		}
		if len(raw) == 0 && rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.EOF {
			return res, fmt.Errorf("report: verify: read events: %w", rerr)
		}
		line++
		raw = bytes.TrimRight(raw, "\r\n")
		if len(raw) == 0 {
			return res, fail(&res, ErrChain, seq+1, line, "empty line")
		}
		var e state.Event
		prevRaw, hashRaw, ok := dec.decode(raw, &e)
		if !ok {
			// Strict decoding: exact member names, no unknown or
			// duplicate members, so an edit outside the hashed fields is
			// caught too. The fast path above accepts only lines this
			// decoder reads the same way.
			var slow state.Event // escapes: only this path allocates it
			if err := jsonv2.Unmarshal(raw, &slow, jsonv2.RejectUnknownMembers(true)); err != nil {
				return res, fail(&res, ErrChain, seq+1, line, fmt.Sprintf("unreadable event: %v", err))
			}
			e = slow
			prevRaw, hashRaw = []byte(e.Prev), []byte(e.Hash)
		}
		if e.Seq != seq+1 {
			if e.Seq > seq+1 {
				return res, fail(&res, ErrChain, seq+1, line, fmt.Sprintf("event %d is missing (next line holds seq %d)", seq+1, e.Seq))
			}
			return res, fail(&res, ErrChain, e.Seq, line, fmt.Sprintf("seq %d out of order after %d", e.Seq, seq))
		}
		hex.Encode(hx[:], prevHash[:])
		if string(prevRaw) != string(hx[:]) {
			return res, fail(&res, ErrChain, e.Seq, line, "prev does not equal the hash of the event before it")
		}
		h := e.ComputeHash(prevHash)
		hex.Encode(hx[:], h[:])
		if string(hashRaw) != string(hx[:]) {
			return res, fail(&res, ErrChain, e.Seq, line, "hash does not match the event's content")
		}
		if want, ok := marks[e.Seq]; ok {
			if want != string(hashRaw) {
				where := fmt.Sprintf("event %d", e.Seq)
				if e.Seq-lastMark > 1 {
					where = fmt.Sprintf("an event in seq %d..%d", lastMark+1, e.Seq)
				}
				return res, fail(&res, ErrHead, e.Seq, line, fmt.Sprintf("chain departs from the record at %s: the log was altered and re-hashed", where))
			}
			lastMark = e.Seq
		}
		if genesis {
			if err := rp.apply(&e); err != nil {
				return res, fail(&res, ErrLedger, e.Seq, line, err.Error())
			}
		}
		prevHash, seq = h, e.Seq
		res.Events++
		if rerr == io.EOF {
			break
		}
	}
	setHead()
	switch {
	case seq < led.Chain.Seq:
		return res, fail(&res, ErrHead, seq+1, 0, fmt.Sprintf("log ends at seq %d but the anchored head is seq %d: events %d..%d are missing", seq, led.Chain.Seq, seq+1, led.Chain.Seq))
	case res.Head.Hash != led.Chain.Hash:
		return res, fail(&res, ErrHead, seq, line, fmt.Sprintf("last event hash %s differs from the anchored head %s", short(res.Head.Hash), short(led.Chain.Hash)))
	}
	res.ChainOK = true

	res.Problems = append(res.Problems, checkDoc(led)...)
	var rebuilt *LedgerDoc
	if genesis {
		res.LedgerChecked = true
		d := rp.doc()
		rebuilt = &d
		res.Problems = append(res.Problems, compareLedger(led, d)...)
		var hops, flowJobs int64 = rp.hops(), 0
		for _, fl := range led.Flows {
			flowJobs += fl.Jobs
		}
		if hops+rp.hopsOut != flowJobs+rp.hopsIn {
			res.Problems = append(res.Problems, fmt.Sprintf("invariant flows: flow jobs %d (and %d hops handed in) != job hops %d (and %d handed out)",
				flowJobs, rp.hopsIn, hops, rp.hopsOut))
		}
	}
	regionProblems := checkRegions(led, rebuilt)
	res.Regions = len(led.Regions)
	res.GlobalOK = res.Regions > 0 && len(regionProblems) == 0
	res.Problems = append(res.Problems, regionProblems...)
	if len(res.Problems) > 0 {
		kind := ErrLedger
		for _, p := range res.Problems {
			if len(p) > 10 && p[:10] == "invariant " {
				kind = ErrInvariant
				break
			}
		}
		res.Reason = res.Problems[0]
		return res, fmt.Errorf("report: verify %s: %w: %s", dir, kind, res.Reason)
	}
	res.LedgerOK = res.LedgerChecked
	return res, nil
}

func fail(res *VerifyResult, kind error, seq uint64, line int, why string) error {
	res.BadSeq, res.BadLine, res.Reason = seq, line, why
	if seq == 0 {
		return fmt.Errorf("report: verify %s: %w: %s", res.Dir, kind, why)
	}
	return fmt.Errorf("report: verify %s: %w: event %d: %s", res.Dir, kind, seq, why)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("report: read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("report: parse %s: %w", path, err)
	}
	return nil
}

// checkDoc checks the invariants recorded in ledger.json and the ones that
// follow from the document alone.
func checkDoc(led LedgerDoc) []string {
	var out []string
	for _, inv := range led.Invariants {
		if !inv.OK {
			out = append(out, fmt.Sprintf("invariant %s: recorded as failing: %s", inv.ID, inv.Message))
		}
	}
	for _, st := range States() {
		var n, v int64
		for _, sh := range led.Shards {
			n += sh[st].Jobs
			v += sh[st].ValueMu
		}
		if n != led.Global[st].Jobs || v != led.Global[st].ValueMu {
			out = append(out, fmt.Sprintf("invariant shard-totals: %s: shards sum to %d jobs / %d mu, global is %d / %d", st, n, v, led.Global[st].Jobs, led.Global[st].ValueMu))
		}
	}
	var paid, earned int64
	for _, v := range led.PaymentsMu {
		paid += v
	}
	for _, n := range led.Nodes {
		earned += n.EarnedMu
	}
	if paid != earned {
		out = append(out, fmt.Sprintf("invariant payments: payments sum to %d mu, node earnings to %d mu", paid, earned))
	}
	if int64(led.Events) != int64(led.Chain.Seq-led.Anchor.Seq) {
		out = append(out, fmt.Sprintf("invariant chain: %d events recorded between anchor %d and head %d", led.Events, led.Anchor.Seq, led.Chain.Seq))
	}
	return out
}

// compareLedger lists every difference between the recorded ledger and the
// one rebuilt from events.
func compareLedger(rec, got LedgerDoc) []string {
	var out []string
	cmp := func(where string, a, b map[string]CountValue) {
		for _, st := range States() {
			if a[st].Jobs != b[st].Jobs || a[st].ValueMu != b[st].ValueMu {
				out = append(out, fmt.Sprintf("%s.%s: ledger.json has %d jobs / %d mu, events give %d / %d", where, st, a[st].Jobs, a[st].ValueMu, b[st].Jobs, b[st].ValueMu))
			}
		}
	}
	cmp("global", rec.Global, got.Global)
	for _, k := range unionKeys(rec.Shards, got.Shards) {
		cmp("shards."+k, rec.Shards[k], got.Shards[k])
	}
	for _, k := range unionKeys(rec.Nodes, got.Nodes) {
		a, b := rec.Nodes[k], got.Nodes[k]
		if a.Active != b.Active || a.Completed != b.Completed || a.EarnedMu != b.EarnedMu {
			out = append(out, fmt.Sprintf("nodes.%s: ledger.json has active %d, completed %d, earned %d mu; events give %d, %d, %d mu", k, a.Active, a.Completed, a.EarnedMu, b.Active, b.Completed, b.EarnedMu))
		}
	}
	fk := func(fs []FlowLedger) map[string]FlowLedger {
		m := make(map[string]FlowLedger, len(fs))
		for _, f := range fs {
			m[f.From+" -> "+f.To] = f
		}
		return m
	}
	rf, gf := fk(rec.Flows), fk(got.Flows)
	for _, k := range unionKeys(rf, gf) {
		if rf[k].Jobs != gf[k].Jobs || rf[k].ValueMu != gf[k].ValueMu {
			out = append(out, fmt.Sprintf("flows %s: ledger.json has %d jobs / %d mu, events give %d / %d", k, rf[k].Jobs, rf[k].ValueMu, gf[k].Jobs, gf[k].ValueMu))
		}
	}
	rs, gs := rec.Settlement, got.Settlement
	if rs.ByBasis == nil {
		// A ledger.json written before settlements were summed.
		rs = gs
	}
	if rs.Completed != gs.Completed || rs.QuotedMu != gs.QuotedMu || rs.SettledMu != gs.SettledMu {
		out = append(out, fmt.Sprintf("settlement: ledger.json has %d jobs quoted %d mu settled %d mu, events give %d, %d mu, %d mu",
			rs.Completed, rs.QuotedMu, rs.SettledMu, gs.Completed, gs.QuotedMu, gs.SettledMu))
	}
	for _, k := range unionKeys(rs.ByBasis, gs.ByBasis) {
		if rs.ByBasis[k] != gs.ByBasis[k] {
			out = append(out, fmt.Sprintf("settlement.by_basis.%s: ledger.json has %d jobs, events give %d", k, rs.ByBasis[k], gs.ByBasis[k]))
		}
	}
	for _, k := range unionKeys(rec.PaymentsMu, got.PaymentsMu) {
		if rec.PaymentsMu[k] != got.PaymentsMu[k] {
			out = append(out, fmt.Sprintf("payments.%s: ledger.json has %d mu, events give %d mu", k, rec.PaymentsMu[k], got.PaymentsMu[k]))
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := make(map[string]bool, len(a)+len(b))
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Text renders the result for people, as `planetary ledger verify` prints it.
func (r VerifyResult) Text() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "bundle:   %s\n", r.Dir)
	fmt.Fprintf(&b, "events:   %d verified after anchor seq %d\n", r.Events, r.Anchor.Seq)
	if r.Pruned != nil {
		fmt.Fprintf(&b, "pruned:   %d events before the anchor (event retention)\n", r.Pruned.Events)
	}
	fmt.Fprintf(&b, "head:     seq %d %s (recorded seq %d %s)\n", r.Head.Seq, short(r.Head.Hash), r.Recorded.Seq, short(r.Recorded.Hash))
	chain := "ok"
	if !r.ChainOK {
		chain = "BROKEN"
	}
	fmt.Fprintf(&b, "chain:    %s\n", chain)
	switch {
	case !r.ChainOK:
		fmt.Fprintf(&b, "ledger:   not checked\n")
	case !r.LedgerChecked && r.Pruned != nil:
		fmt.Fprintf(&b, "ledger:   not rebuilt (earlier events pruned)\n")
	case !r.LedgerChecked:
		fmt.Fprintf(&b, "ledger:   not rebuilt (log starts after genesis)\n")
	case r.LedgerOK:
		fmt.Fprintf(&b, "ledger:   ok (rebuilt from events, matches ledger.json)\n")
	default:
		fmt.Fprintf(&b, "ledger:   MISMATCH\n")
	}
	switch {
	case r.Regions == 0 || !r.ChainOK:
	case r.GlobalOK:
		fmt.Fprintf(&b, "global:   ok (%d regions' checkpoints sum to the global totals, the local one is this ledger)\n", r.Regions)
	default:
		fmt.Fprintf(&b, "global:   MISMATCH (%d regions)\n", r.Regions)
	}
	if r.BadSeq != 0 {
		fmt.Fprintf(&b, "first bad event: seq %d", r.BadSeq)
		if r.BadLine != 0 {
			fmt.Fprintf(&b, " (line %d)", r.BadLine)
		}
		fmt.Fprintf(&b, ": %s\n", r.Reason)
	} else if r.Reason != "" && len(r.Problems) == 0 {
		fmt.Fprintf(&b, "problem: %s\n", r.Reason)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	return b.String()
}
