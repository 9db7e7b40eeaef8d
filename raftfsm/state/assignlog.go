package state

// assignLog is a node's derived record of attempts that became active
// (Assigned, or Running when restored so), in the order they did. Each entry
// carries a store-wide generation, so a reader can ask for everything after
// the generation it last saw instead of walking every active attempt. It is
// not persisted: Restore rebuilds it from the active jobs.
type assignLog struct {
	ents []assignEnt
}

type assignEnt struct {
	gen     uint64
	seq     uint64
	attempt uint32
}

// live reports whether e still names the job's current active attempt on
// node.
func (s *Store) live(e assignEnt, node string) bool {
	j := s.JobBySeq(e.seq)
	return j != nil && j.Attempt == e.attempt && j.Node == node && isActive(j.State)
}

// logAssigned records that j's attempt became active on its node.
func (s *Store) logAssigned(j *Job) {
	s.assignGen++
	l := s.assigned[j.Node]
	if l == nil {
		l = &assignLog{}
		s.assigned[j.Node] = l
	}
	// Drop finished attempts from the front, and compact the whole log when
	// stale entries behind a long-running one outnumber the live ones, so
	// the log stays within a small factor of the node's active set.
	drop := 0
	for drop < len(l.ents) && drop < 4 && !s.live(l.ents[drop], j.Node) {
		drop++
	}
	if drop > 0 {
		l.ents = append(l.ents[:0], l.ents[drop:]...)
	}
	if len(l.ents) > 2*len(s.active[j.Node])+1024 {
		kept := l.ents[:0]
		for _, e := range l.ents {
			if s.live(e, j.Node) {
				kept = append(kept, e)
			}
		}
		clear(l.ents[len(kept):])
		l.ents = kept
	}
	l.ents = append(l.ents, assignEnt{gen: s.assignGen, seq: j.Seq, attempt: j.Attempt})
}

// AssignGen is the generation of the latest attempt that became active on
// any node; pass it to AssignedSince to read only what is newer.
func (s *Store) AssignGen() uint64 { return s.assignGen }

// AssignedSince calls fn, in the order they became active, for the jobs on
// node whose current attempt became active after generation after and is
// still Assigned or Running.
func (s *Store) AssignedSince(node string, after uint64, fn func(*Job)) {
	l := s.assigned[node]
	if l == nil {
		return
	}
	// Binary search for the first entry newer than after.
	lo, hi := 0, len(l.ents)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.ents[m].gen <= after {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for _, e := range l.ents[lo:] {
		if s.live(e, node) {
			fn(s.at(e.seq))
		}
	}
}
