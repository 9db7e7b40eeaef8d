package state

import (
	"fmt"
	"sort"
)

// handOffTables are a store's hand-offs: those out of its region (source
// side) and those into it (target side), with the aggregates derived from
// them (never persisted: FromImage rebuilds them from the records).
type handOffTables struct {
	out      map[string]*HandOff // by id, closed ones kept
	in       map[string]*HandIn  // by id
	inFlight map[uint64]string   // job seq -> id of its open hand-off
	lines    map[string]*HandOffLine
	// gone and goneKeys map the id and key of a job that left through an
	// accepted hand-off to that hand-off's id, so neither is taken again
	// by a submit here.
	gone     map[string]string
	goneKeys map[string]string
	// outJobs counts the jobs closed as accepted (they left the store's
	// job table); outHops the hops their records carried plus the one
	// across; inHops the hops the accepted hand-ins carried in.
	outJobs int64
	outHops int64
	inHops  int64
}

func newHandOffTables() handOffTables {
	return handOffTables{out: map[string]*HandOff{}, in: map[string]*HandIn{}, inFlight: map[uint64]string{}, lines: map[string]*HandOffLine{},
		gone: map[string]string{}, goneKeys: map[string]string{}}
}

func (t *handOffTables) line(region string) *HandOffLine {
	l := t.lines[region]
	if l == nil {
		l = &HandOffLine{Region: region}
		t.lines[region] = l
	}
	return l
}

// countOut adds (sign 1) or removes (-1) a source-side record's share.
func (t *handOffTables) countOut(h *HandOff, sign int64) {
	l := t.line(h.ToRegion)
	switch h.State {
	case HandOffOpen:
		l.OpenJobs += sign
		l.OpenValueMu += sign * h.Job.ValueMu
	case HandOffAccepted:
		l.OutJobs += sign
		l.OutValueMu += sign * h.Job.ValueMu
		t.outJobs += sign
		t.outHops += sign * (int64(h.Job.Hops) + 1)
		if sign > 0 {
			t.gone[h.Job.ID] = h.ID
			if h.Job.Key != "" {
				t.goneKeys[h.Job.Key] = h.ID
			}
		}
	}
}

func (t *handOffTables) countIn(h *HandIn) {
	if !h.Accepted {
		return
	}
	l := t.line(h.FromRegion)
	l.InJobs++
	l.InValueMu += h.ValueMu
	t.inHops += int64(h.Hops)
}

// ---- reads ----

// HandOff returns the source-side record of hand-off id.
func (s *Store) HandOff(id string) (HandOff, bool) {
	if h := s.ho.out[id]; h != nil {
		return *h, true
	}
	return HandOff{}, false
}

// HandOffCount is the number of hand-offs this region ever began.
func (s *Store) HandOffCount() int { return len(s.ho.out) }

// HandOffs returns the source-side records sorted by id.
func (s *Store) HandOffs() []HandOff {
	out := make([]HandOff, 0, len(s.ho.out))
	for _, h := range s.ho.out {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// OpenHandOffs returns the open hand-offs to region to (all regions when
// to is empty), in the order they began.
func (s *Store) OpenHandOffs(to string) []HandOff {
	out := make([]HandOff, 0, len(s.ho.inFlight))
	for _, id := range s.ho.inFlight {
		if h := s.ho.out[id]; to == "" || h.ToRegion == to {
			out = append(out, *h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// HandedOutJob returns the accepted hand-off that took the job of id
// (byKey: of that idempotency key) out of the store, if one did: a submit
// of that id or key here is not a new job.
func (s *Store) HandedOutJob(id string, byKey bool) (HandOff, bool) {
	m := s.ho.gone
	if byKey {
		m = s.ho.goneKeys
	}
	if id == "" || m[id] == "" {
		return HandOff{}, false
	}
	return *s.ho.out[m[id]], true
}

// HandOffOf returns the id of the open hand-off holding the job of seq, ""
// when none does.
func (s *Store) HandOffOf(seq uint64) string { return s.ho.inFlight[seq] }

// InFlight is the number of open hand-offs out of the store.
func (s *Store) InFlight() int { return len(s.ho.inFlight) }

// HandIn returns the target-side record of hand-off id.
func (s *Store) HandIn(id string) (HandIn, bool) {
	if h := s.ho.in[id]; h != nil {
		return *h, true
	}
	return HandIn{}, false
}

// HandIns returns the target-side records sorted by id.
func (s *Store) HandIns() []HandIn {
	out := make([]HandIn, 0, len(s.ho.in))
	for _, h := range s.ho.in {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// HandOffLines returns the hand-off line of every region the store
// exchanged hand-offs with, sorted by region.
func (s *Store) HandOffLines() []HandOffLine {
	out := make([]HandOffLine, 0, len(s.ho.lines))
	for _, l := range s.ho.lines {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out
}

// HandedOut is the number of jobs that left the store through accepted
// hand-offs, and HandOffHops the hops they took with them (the hop across
// included); HandInHops is the hops the jobs accepted from other regions
// brought in (the hop across included).
func (s *Store) HandedOut() int64   { return s.ho.outJobs }
func (s *Store) HandOffHops() int64 { return s.ho.outHops }
func (s *Store) HandInHops() int64  { return s.ho.inHops }

// ---- writes (raftfsm only) ----

// BeginHandOff takes the queued job h.Seq out of placement under the open
// hand-off h: its record stays, counted queued in its shard, but no queue
// holds it until the hand-off is returned or accepted.
func (s *Store) BeginHandOff(h HandOff) {
	j := s.JobBySeq(h.Seq)
	if j == nil || j.State != JobQueued || h.State != HandOffOpen || s.ho.out[h.ID] != nil || s.ho.inFlight[h.Seq] != "" {
		panic(fmt.Sprintf("state: hand-off %s of job seq %d that is not a free queued record", h.ID, h.Seq))
	}
	s.unlink(j)
	s.ho.inFlight[h.Seq] = h.ID
	s.link(j, true)
	s.putHandOff(&h)
}

// ReturnHandOff closes the open hand-off id as returned: its job is queued
// in its shard again.
func (s *Store) ReturnHandOff(id, reason string, at int64) {
	h := s.openHandOff(id)
	j := s.at(h.Seq)
	s.unlink(j)
	delete(s.ho.inFlight, h.Seq)
	s.link(j, true)
	n := *h
	n.State, n.Reason, n.ClosedAt = HandOffReturned, reason, at
	s.putHandOff(&n)
}

// AcceptHandOff closes the open hand-off id as accepted: its job's record
// leaves the store and its ledger tables (the target region holds it now);
// the job's seq stays used, counted by HandedOut.
func (s *Store) AcceptHandOff(id string, at int64) {
	h := s.openHandOff(id)
	j := s.at(h.Seq)
	s.unlink(j)
	delete(s.ho.inFlight, h.Seq)
	s.dropRecord(j)
	n := *h
	n.State, n.ClosedAt = HandOffAccepted, at
	s.putHandOff(&n)
}

func (s *Store) openHandOff(id string) *HandOff {
	h := s.ho.out[id]
	if h == nil || h.State != HandOffOpen || s.ho.inFlight[h.Seq] != id {
		panic(fmt.Sprintf("state: close of hand-off %s that is not open", id))
	}
	return h
}

func (s *Store) putHandOff(h *HandOff) {
	if old := s.ho.out[h.ID]; old != nil {
		s.ho.countOut(old, -1)
	}
	s.ho.out[h.ID] = h
	s.ho.countOut(h, 1)
}

// PutHandIn records the target side of a hand-off (accepted or refused);
// Apply creates the accepted job itself.
func (s *Store) PutHandIn(h HandIn) {
	if s.ho.in[h.ID] != nil {
		panic(fmt.Sprintf("state: hand-in %s twice", h.ID))
	}
	s.ho.in[h.ID] = &h
	s.ho.countIn(&h)
}

// dropRecord removes a job's record and its id and key indexes from the
// job table (its seq stays used); the caller has unlinked it.
func (s *Store) dropRecord(j *Job) {
	s.ids.remove(j.ID, s.idOf)
	if j.Key != "" {
		s.keys.remove(j.Key, s.keyOf)
	}
	s.jobs[j.Seq-1-s.jobBase] = nil
	s.nlive--
	trim := 0
	for trim < len(s.jobs) && s.jobs[trim] == nil {
		trim++
	}
	if trim > 0 {
		clear(s.jobs[:trim])
		s.jobs = s.jobs[trim:]
		s.jobBase += uint64(trim)
	}
}

// restoreHandOffs loads the hand-off records of an image; it runs before
// the jobs are linked, so an open hand-off's job is kept out of its queue.
func (s *Store) restoreHandOffs(outs []HandOff, ins []HandIn) error {
	for i := range outs {
		h := outs[i]
		if h.ID == "" || s.ho.out[h.ID] != nil {
			return fmt.Errorf("%w: hand-off %q twice or unnamed", ErrBadImage, h.ID)
		}
		if h.State == HandOffOpen {
			if s.ho.inFlight[h.Seq] != "" {
				return fmt.Errorf("%w: hand-offs %s and %s both hold job seq %d", ErrBadImage, s.ho.inFlight[h.Seq], h.ID, h.Seq)
			}
			s.ho.inFlight[h.Seq] = h.ID
		}
		s.putHandOff(&h)
	}
	for _, h := range ins {
		if h.ID == "" || s.ho.in[h.ID] != nil {
			return fmt.Errorf("%w: hand-in %q twice or unnamed", ErrBadImage, h.ID)
		}
		s.PutHandIn(h)
	}
	return nil
}
