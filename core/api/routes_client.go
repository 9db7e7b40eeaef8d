package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/core/eventlog"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// ---- ledger and events

func (h *HTTP) ledger(w http.ResponseWriter, r *http.Request) (any, error) {
	out := Ledger{Shards: map[string]Counts{}, Nodes: map[string]Counts{}, Payments: map[string]float64{},
		PaymentsMicro: map[string]int64{}, Flows: []Flow{}}
	var gerr error
	h.b.Read(func(s *state.Store) {
		out.Global = CountsView(s.Global())
		for _, sh := range s.Shards() {
			out.Shards[sh.Name] = CountsView(s.ShardCounts(sh.Name))
		}
		for _, n := range s.Nodes() {
			out.Nodes[n.ID] = CountsView(s.NodeCounts(n.ID))
		}
		for _, f := range s.Flows() {
			out.Flows = append(out.Flows, Flow{From: f.From, To: f.To, Jobs: f.Jobs, Value: Credits(f.ValueMu), ValueMicro: f.ValueMu})
		}
		for _, p := range s.Payments() {
			out.Payments[p.Node] = Credits(p.AmountMu)
			out.PaymentsMicro[p.Node] = p.AmountMu
		}
		for _, inv := range raftfsm.CheckInvariants(s) {
			out.Invariants = append(out.Invariants, Invariant{ID: inv.ID, OK: inv.OK, Message: inv.Message})
		}
		hd := s.Head()
		out.Chain = ChainHead{Seq: hd.Seq, Hash: hex.EncodeToString(hd.Hash[:])}
		out.AppliedIndex = s.AppliedIndex()
		// The regions' checkpoints, this region's built from the same read.
		var g state.GlobalView
		// The ages of the other regions' lines are measured at this read.
		if g, gerr = server.GlobalLedgerOf(s, h.b.Region()); gerr == nil {
			out.Regions, out.GlobalTotals = view.GlobalLedger(g, time.Now().UnixNano())
		}
	})
	if gerr != nil {
		return nil, fmt.Errorf("global ledger: %w", gerr)
	}
	h.nameLeader(out.Regions)
	return out, nil
}

// nameLeader names the raft leader this server knows (its id, else its
// address) on the local region's line of a global ledger.
func (h *HTTP) nameLeader(lines []RegionLedger) {
	addr, id := h.b.Leader()
	for i := range lines {
		if lines[i].Local {
			lines[i].Leader = cmp.Or(id, addr)
		}
	}
}

const (
	defaultEventLimit = 1000
	maxEventLimit     = 10000
)

func (h *HTTP) events(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	index, err := uintParam(q.Get("index"), "index")
	if err != nil {
		return nil, err
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, badRequest("wait", "wait must be a duration such as 30s")
		}
		wait = min(d, h.cfg.MaxEventWait)
	}
	limit := defaultEventLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, badRequest("limit", "limit must be a positive integer")
		}
		limit = min(n, maxEventLimit)
	}
	// type= may list several types separated by commas.
	var types map[string]bool
	if t := q.Get("type"); t != "" {
		types = map[string]bool{}
		for _, x := range strings.Split(t, ",") {
			types[strings.TrimSpace(x)] = true
		}
	}
	// job= keeps one job's events (its timeline); the scan still walks
	// every event after index, so a caller pages on with the answer's
	// index until it reaches head. From index 0 it starts where the job
	// was submitted (see jobStart).
	job := q.Get("job")
	log := h.b.Events()
	st, pruned := log.Pruned()
	if job != "" && index == 0 {
		var at int64
		h.b.Read(func(s *state.Store) {
			if j := s.Job(job); j != nil {
				at = j.SubmittedAt
			}
		})
		// A timeline whose start was pruned begins at the first retained
		// event.
		floor := uint64(0)
		if pruned {
			floor = st.Anchor.Seq
		}
		if index, err = jobStart(log, job, at, floor); err != nil {
			return nil, fmt.Errorf("api: read events: %w", err)
		}
	}
	if pruned && index < st.Anchor.Seq {
		return nil, prunedError(st)
	}
	ctx := r.Context()
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	// A caller that accepts MsgpackType gets the page encoded while the
	// log is scanned; others get JSON.
	w.Header().Add("Vary", "Accept")
	var page *eventPageWriter
	if accepts(r, MsgpackType) {
		head, _ := log.Head()
		hint := 0
		if head > index && types == nil && job == "" {
			hint = int(min(head-index, uint64(limit)))
		}
		page = newEventPageWriter(hint)
	}
	out := Events{Events: []Event{}, Index: index}
	found := 0
	// A job's timeline holds the shard-level jobs.unparked events that
	// took it from parked back to its queue: the one after each of its
	// job.parked events (the next topology change unparks every parked
	// job), and the one its record names (Job.UnparkedSeq), for a read
	// that starts after the job.parked it ends.
	parkedIn := ""
	var unparkedSeq uint64
	ofJob := func(e *state.Event) bool {
		switch {
		case e.Job == job:
			parkedIn = ""
			if e.Type == state.EvJobParked {
				parkedIn = e.Shard
			}
			return true
		case e.Type == state.EvJobsUnparked && (e.Shard == parkedIn || (unparkedSeq != 0 && e.Seq == unparkedSeq)):
			parkedIn = ""
			return true
		}
		return false
	}
	answer := func() (any, error) {
		out.Head, _ = log.Head()
		if page == nil {
			return out, nil
		}
		body := page.finish(out.Index, out.Head)
		w.Header().Set("Content-Type", MsgpackType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return nil, nil
	}
	for {
		// Scan copies (or encodes) only the events that pass the type
		// filter.
		if job != "" {
			h.b.Read(func(s *state.Store) {
				if j := s.Job(job); j != nil {
					unparkedSeq = j.UnparkedSeq
				}
			})
		}
		n, err := log.Scan(out.Index, limit, func(e *state.Event) {
			out.Index = e.Seq
			if (job != "" && !ofJob(e)) || (types != nil && !types[e.Type]) {
				return
			}
			found++
			if page != nil {
				page.add(e)
			} else {
				out.Events = append(out.Events, Event(*e))
			}
		})
		if errors.Is(err, eventlog.ErrPruned) {
			if st, ok := log.Pruned(); ok {
				return nil, prunedError(st)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("api: read events: %w", err)
		}
		if n == limit && parkedIn != "" {
			// A page of a timeline does not end between a job.parked
			// and the event that unparks it: a read from that cursor
			// could not tell the job was parked.
			continue
		}
		if found > 0 || wait == 0 || n == limit {
			return answer()
		}
		if err := log.Wait(ctx, out.Index); err != nil {
			if r.Context().Err() != nil {
				return nil, r.Context().Err()
			}
			return answer() // the wait ran out: an empty answer
		}
	}
}

// prunedError answers a read of events that event retention removed.
func prunedError(st eventlog.RetentionState) *apiError {
	return &apiError{status: http.StatusGone, field: "index", msg: fmt.Sprintf(
		"events up to seq %d were pruned by event retention; the first retained event is seq %d (ask with index=%d or later)",
		st.Anchor.Seq, st.Anchor.Seq+1, st.Anchor.Seq)}
}

func (h *HTTP) eventRetention(w http.ResponseWriter, r *http.Request) (any, error) {
	log := h.b.Events()
	pol := log.Retention()
	st, ok := log.Pruned()
	out := EventRetention{
		MaxAgeMs: pol.MaxAge.Milliseconds(), MaxBytes: pol.MaxBytes, ArchiveDir: pol.ArchiveDir,
		Pruned: ok, Anchor: ChainHead{Seq: st.Anchor.Seq, Hash: st.Anchor.Hash},
		Covered:      ChainHead{Seq: st.Covered.Seq, Hash: st.Covered.Hash},
		PrunedEvents: st.PrunedEvents, PrunedSegments: st.PrunedSegments, PrunedBytes: st.PrunedBytes,
		ArchivedSegments: st.ArchivedSegments,
	}
	out.FirstSeq = st.Anchor.Seq + 1
	out.Head, _ = log.Head()
	return out, nil
}

// jobStart returns a cursor just before the job.submitted event of job, so
// a timeline read need not scan the log from its start: a binary search
// for the last event stamped before the job's submit time at, then a
// check that the submit event follows within one page (events of one
// entry share its time). Leader-stamped times rise with the sequence
// unless a clock stepped back; when the check fails, or the job is
// unknown, the answer is floor (the first retained cursor: 0, or the
// anchor of a pruned log) and the caller scans the whole log.
func jobStart(log *eventlog.Log, job string, at int64, floor uint64) (uint64, error) {
	if at == 0 {
		return floor, nil
	}
	head, _ := log.Head()
	lo, hi := floor, max(head, floor)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		evs, err := log.Read(mid-1, 1)
		if err != nil {
			return 0, err
		}
		if len(evs) == 0 || evs[0].Time >= at {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	found := false
	if _, err := log.Scan(lo, maxEventLimit, func(e *state.Event) {
		found = found || (e.Job == job && e.Type == state.EvJobSubmitted && e.Time == at)
	}); err != nil {
		return 0, err
	}
	if !found {
		return floor, nil
	}
	return lo, nil
}

// ---- client protocol

func (h *HTTP) clientRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ClientRegister
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if err := checkClient(r, req.Client); err != nil {
		return nil, err
	}
	nodes := make([]state.Node, len(req.Nodes))
	for i, n := range req.Nodes {
		if err := checkPrice(fmt.Sprintf("nodes[%d].price.", i), n.Price); err != nil {
			return nil, err
		}
		nodes[i] = NodeRecord(n)
		nodes[i].Client = req.Client
	}
	claimed, err := h.b.RegisterClient(r.Context(), req.Client, nodes, req.Kinds)
	if err != nil {
		return nil, err
	}
	if claimed == nil {
		claimed = []string{}
	}
	return ClientRegistered{Claimed: claimed}, nil
}

func (h *HTTP) clientHeartbeat(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ClientHeartbeat
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if err := checkClient(r, req.Client); err != nil {
		return nil, err
	}
	beats := make([]server.PidBeat, len(req.Nodes))
	for i, b := range req.Nodes {
		if b.ID == "" {
			return nil, badRequest(fmt.Sprintf("nodes[%d].id", i), "node id is required")
		}
		beats[i] = server.PidBeat{NodeBeat: server.NodeBeat{ID: b.ID, Healthy: b.Healthy, LatencyMs: b.LatencyMs},
			PluginPid: b.PluginPid}
	}
	var err error
	if pb, ok := h.b.(pidHeartbeater); ok {
		err = pb.HeartbeatPids(req.Client, beats)
	} else {
		plain := make([]server.NodeBeat, len(beats))
		for i, b := range beats {
			plain[i] = b.NodeBeat
		}
		err = h.b.Heartbeat(req.Client, plain)
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (h *HTTP) clientResults(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ClientResults
	if hasContentType(r.Header, MsgpackType) {
		body, err := readBody(w, r, h.cfg.MaxBodyBytes)
		if err != nil {
			return nil, err
		}
		if req, err = decodeResults(body); err != nil {
			return nil, badRequest("", "%v", err)
		}
	} else if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if err := checkClient(r, req.Client); err != nil {
		return nil, err
	}
	started := make([]command.JobAttempt, len(req.Started))
	for i, s := range req.Started {
		started[i] = command.JobAttempt{JobID: s.JobID, Attempt: s.Attempt}
	}
	results := make([]command.Result, len(req.Results))
	for i, x := range req.Results {
		usage, err := state.Quantities(x.Usage)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("results[%d].usage", i), "%v", err)
		}
		results[i] = command.Result{JobID: x.JobID, Attempt: x.Attempt, OK: x.OK, Retryable: x.Retryable,
			ExitCode: x.ExitCode, Output: x.Output, Error: x.Error, Usage: usage}
	}
	if err := h.b.Results(r.Context(), req.Client, started, results); err != nil {
		return nil, err
	}
	// The index after the batch applied: the client resumes its control
	// stream from it, so no server re-sends these attempts.
	h.setIndex(w)
	return struct{}{}, nil
}

// clientAssignments streams NDJSON, one assignment a line, flushed after
// each batch; an idle stream gets a blank line every StreamKeepAlive. A
// caller that accepts MsgpackType gets one msgpack frame per batch instead,
// and a nil frame as the keep-alive.
func (h *HTTP) clientAssignments(w http.ResponseWriter, r *http.Request) (any, error) {
	client := r.URL.Query().Get("client")
	if err := checkClient(r, client); err != nil {
		return nil, err
	}
	compact := accepts(r, MsgpackType)
	fs, ctx := h.openStream(w, r, compact)
	defer fs.close()
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	var views []Assignment
	var frame []byte
	err := h.b.Assignments(ctx, client, func(batch []server.Assignment) error {
		views = views[:0]
		for _, a := range batch {
			views = append(views, assignmentView(a))
		}
		if compact {
			frame = appendAssignments(frame[:0], views)
		} else {
			line.Reset()
			for i := range views {
				if err := enc.Encode(&views[i]); err != nil {
					return fmt.Errorf("api: assignment stream: %w", err)
				}
			}
			frame = line.Bytes()
		}
		if err := fs.write(frame); err != nil {
			return fmt.Errorf("api: assignment stream: %w", err)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		h.log.Warn("assignment stream ended", "client", client, "error", err)
	}
	return nil, nil
}
