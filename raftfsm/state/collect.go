package state

import (
	"fmt"
	"sort"
)

// collectedTables hold garbage collection's aggregates and the tombs of the
// idempotency window.
type collectedTables struct {
	jobs    int64
	global  Counts
	shards  map[string]*Counts
	nodes   map[string]*Counts
	paidMu  int64
	hops    int64
	batches int64
	lastAt  int64

	// tombs in collection order (CollectedAt ascending); tombs[:tombHead]
	// are forgotten. byID and byKey map to the tomb's position + tombBase.
	tombs    []Tomb
	tombHead int
	tombBase int
	byID     map[string]int
	byKey    map[string]int
}

func newCollectedTables() collectedTables {
	return collectedTables{
		shards: make(map[string]*Counts),
		nodes:  make(map[string]*Counts),
		byID:   make(map[string]int),
		byKey:  make(map[string]int),
	}
}

func addCounts(m map[string]*Counts, k string, st JobState, v int64) {
	c := m[k]
	if c == nil {
		c = &Counts{}
		m[k] = c
	}
	c.N[st]++
	c.ValueMu[st] += v
}

func (g *collectedTables) addTomb(t Tomb) {
	pos := g.tombBase + len(g.tombs)
	g.tombs = append(g.tombs, t)
	g.byID[t.ID] = pos
	if t.Key != "" {
		g.byKey[t.Key] = pos
	}
}

func (g *collectedTables) tomb(m map[string]int, k string) (Tomb, bool) {
	pos, ok := m[k]
	if !ok {
		return Tomb{}, false
	}
	return g.tombs[pos-g.tombBase], true
}

func (g *collectedTables) tombList() []Tomb {
	return append([]Tomb(nil), g.tombs[g.tombHead:]...)
}

func (g *collectedTables) image() Collected {
	return Collected{
		Jobs: g.jobs, Global: g.global, Shards: namedCounts(g.shards), Nodes: namedCounts(g.nodes),
		PaidMu: g.paidMu, Hops: g.hops, Batches: g.batches, LastAt: g.lastAt,
	}
}

func (g *collectedTables) restore(s *Store, c Collected, tombs []Tomb) error {
	g.jobs, g.global, g.paidMu, g.hops, g.batches, g.lastAt = c.Jobs, c.Global, c.PaidMu, c.Hops, c.Batches, c.LastAt
	for _, nc := range c.Shards {
		cc := nc.Counts
		g.shards[s.Intern(nc.Name)] = &cc
	}
	for _, nc := range c.Nodes {
		cc := nc.Counts
		g.nodes[s.Intern(nc.Name)] = &cc
	}
	for i, t := range tombs {
		if i > 0 && t.CollectedAt < tombs[i-1].CollectedAt {
			return fmt.Errorf("%w: tomb %q collected before the one ahead of it", ErrBadImage, t.ID)
		}
		if _, dup := g.byID[t.ID]; dup {
			return fmt.Errorf("%w: duplicate tomb %q", ErrBadImage, t.ID)
		}
		g.addTomb(t)
	}
	return nil
}

// liveJobs is the job records in seq order, without holes.
func (s *Store) liveJobs() []*Job {
	out := make([]*Job, 0, s.nlive)
	for _, j := range s.jobs {
		if j != nil {
			out = append(out, j)
		}
	}
	return out
}

func (s *Store) imageMeta() StoreMeta {
	m := s.meta
	m.Seqs = uint64(s.NumJobs())
	return m
}

// Collect removes a terminal job's record and its id and key indexes; its
// share of the ledger moves to the collected aggregates (paidMu is what the
// payments invariant counts for it) and a tomb keeps its id and key for the
// idempotency window (at is the mission time and index the raft index of
// the collection). The ledger tables are totals and do not change.
func (s *Store) Collect(j *Job, paidMu, at int64, index uint64) {
	if cur := s.JobBySeq(j.Seq); cur != j || !j.State.Terminal() {
		panic(fmt.Sprintf("state: collect of job %d that is not a stored terminal record", j.Seq))
	}
	s.dropRecord(j)
	g := &s.gc
	g.jobs++
	g.global.N[j.State]++
	g.global.ValueMu[j.State] += j.ValueMu
	addCounts(g.shards, j.Shard, j.State, j.ValueMu)
	if j.Node != "" {
		addCounts(g.nodes, j.Node, j.State, j.ValueMu)
	}
	g.paidMu += paidMu
	g.hops += int64(j.Hops)
	g.lastAt = at
	g.addTomb(Tomb{ID: j.ID, Key: j.Key, State: j.State, FinishedAt: j.FinishedAt, CollectedAt: at, CollectedIndex: index})
}

// CollectBatchDone counts one applied collection batch.
func (s *Store) CollectBatchDone() { s.gc.batches++ }

// Forget drops the tombs collected before t (the end of the idempotency
// window) and returns how many.
func (s *Store) Forget(before int64) int {
	g := &s.gc
	n := 0
	for g.tombHead < len(g.tombs) && g.tombs[g.tombHead].CollectedAt < before {
		t := g.tombs[g.tombHead]
		pos := g.tombBase + g.tombHead
		if g.byID[t.ID] == pos {
			delete(g.byID, t.ID)
		}
		if t.Key != "" && g.byKey[t.Key] == pos {
			delete(g.byKey, t.Key)
		}
		g.tombs[g.tombHead] = Tomb{}
		g.tombHead++
		n++
	}
	if g.tombHead > 1024 && g.tombHead*2 > len(g.tombs) {
		g.tombBase += g.tombHead
		g.tombs = append([]Tomb(nil), g.tombs[g.tombHead:]...)
		g.tombHead = 0
	}
	return n
}

// CollectedByID returns the tomb of a collected job, while the window keeps it.
func (s *Store) CollectedByID(id string) (Tomb, bool) { return s.gc.tomb(s.gc.byID, id) }

// CollectedByKey returns the tomb of the collected job submitted with key.
func (s *Store) CollectedByKey(key string) (Tomb, bool) {
	if key == "" {
		return Tomb{}, false
	}
	return s.gc.tomb(s.gc.byKey, key)
}

// Tombs is the number of tombs in the idempotency window.
func (s *Store) Tombs() int { return len(s.gc.tombs) - s.gc.tombHead }

// TombsIter calls fn for each tomb in collection order until it returns false.
func (s *Store) TombsIter(fn func(Tomb) bool) {
	for _, t := range s.gc.tombs[s.gc.tombHead:] {
		if !fn(t) {
			return
		}
	}
}

// Collected returns garbage collection's aggregates.
func (s *Store) Collected() Collected { return s.gc.image() }

// CollectedShard returns the counts of collected jobs whose shard was name.
func (s *Store) CollectedShard(name string) Counts {
	if c := s.gc.shards[name]; c != nil {
		return *c
	}
	return Counts{}
}

// CollectedNode returns the counts of collected jobs that named the node.
func (s *Store) CollectedNode(id string) Counts {
	if c := s.gc.nodes[id]; c != nil {
		return *c
	}
	return Counts{}
}

// CollectedShardNames are the shards with collected jobs, sorted.
func (s *Store) CollectedShardNames() []string { return sortedNames(s.gc.shards) }

// CollectedNodeNames are the nodes with collected jobs, sorted.
func (s *Store) CollectedNodeNames() []string { return sortedNames(s.gc.nodes) }

func sortedNames(m map[string]*Counts) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
