package state

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrBadImage is returned by FromImage when an image is inconsistent (seqs
// out of order, duplicate ids or keys).
var ErrBadImage = errors.New("state: inconsistent image")

// Store holds the FSM's tables in memory.
//
// Records (*Job, *Node, *Shard, *Token) are immutable once stored: writers
// store a modified copy, so an Image taken earlier keeps seeing the old
// record. Read methods are deterministic (sorted). Write methods are for
// raftfsm's Apply and Restore only; callers of raftfsm.FSM.Read must not call
// them.
type Store struct {
	// jobs holds the records by seq: jobs[i] has seq jobBase+i+1. Garbage
	// collection leaves nil holes and trims them from the front.
	jobs    []*Job
	jobBase uint64
	nlive   int
	ids     strIndex
	keys    strIndex
	shards  map[string]*Shard
	nodes   map[string]*Node

	queues map[string]*shardQueue
	active map[string][]uint64 // node -> seqs assigned or running, ascending
	// assigned logs, per node, attempts in the order they became active;
	// assignGen numbers them (see AssignedSince).
	assigned  map[string]*assignLog
	assignGen uint64
	parked    map[uint64]struct{}

	global      Counts
	shardCounts map[string]*Counts
	nodeCounts  map[string]*Counts
	flows       map[[2]string]Flow
	payments    map[string]int64
	// paidTotal and flowTotal are the sums of payments and of the flows'
	// values, kept for the checked sums (sums.go); derived, not persisted.
	paidTotal int64
	flowTotal int64

	policy      Policy
	tokens      map[string]*Token // by accessor
	tokenByHash map[string]string
	meta        StoreMeta

	in *Interner

	gc collectedTables
	// regions holds the latest checkpoint received from each other region
	// (RegionCheckpoint commands), by region.
	regions map[string]RegionCheckpoint
	// ho holds the hand-offs out of and into this region (handoff.go).
	ho handOffTables
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		shards:      make(map[string]*Shard),
		nodes:       make(map[string]*Node),
		queues:      make(map[string]*shardQueue),
		active:      make(map[string][]uint64),
		assigned:    make(map[string]*assignLog),
		parked:      make(map[uint64]struct{}),
		shardCounts: make(map[string]*Counts),
		nodeCounts:  make(map[string]*Counts),
		flows:       make(map[[2]string]Flow),
		payments:    make(map[string]int64),
		tokens:      make(map[string]*Token),
		tokenByHash: make(map[string]string),
		in:          NewInterner(),
		gc:          newCollectedTables(),
		regions:     make(map[string]RegionCheckpoint),
		ho:          newHandOffTables(),
	}
}

func (s *Store) at(seq uint64) *Job      { return s.jobs[seq-1-s.jobBase] }
func (s *Store) idOf(seq uint32) string  { return s.at(uint64(seq)).ID }
func (s *Store) keyOf(seq uint32) string { return s.at(uint64(seq)).Key }

// Intern returns the canonical copy of a low-cardinality string.
func (s *Store) Intern(v string) string { return s.in.Str(v) }

func (s *Store) internJob(j *Job) {
	j.Home = s.Intern(j.Home)
	j.Shard = s.Intern(j.Shard)
	j.Node = s.Intern(j.Node)
	j.Kind = s.Intern(j.Kind)
	j.Submitter = s.Intern(j.Submitter)
	j.Origin = s.Intern(j.Origin)
	j.Capabilities = s.in.Caps(j.Capabilities)
	if len(j.Payload) == 0 {
		j.Payload = nil
	}
}

// ---- reads ----

// NumJobs is the number of jobs ever submitted (the highest Seq); collected
// jobs included.
func (s *Store) NumJobs() int { return int(s.jobBase) + len(s.jobs) }

// LiveJobs is the number of job records held (not collected).
func (s *Store) LiveJobs() int { return s.nlive }

// FirstSeq is the lowest seq that may still have a record: every seq below
// it was collected.
func (s *Store) FirstSeq() uint64 { return s.jobBase + 1 }

// JobBySeq returns the job with that seq, or nil (never submitted or
// collected).
func (s *Store) JobBySeq(seq uint64) *Job {
	if seq <= s.jobBase || seq > uint64(s.NumJobs()) {
		return nil
	}
	return s.at(seq)
}

// Job returns the job with that id, or nil.
func (s *Store) Job(id string) *Job { return s.JobBySeq(s.ids.find(id, s.idOf)) }

// JobByKey returns the job submitted with that idempotency key, or nil.
func (s *Store) JobByKey(key string) *Job {
	if key == "" {
		return nil
	}
	return s.JobBySeq(s.keys.find(key, s.keyOf))
}

// JobsIter calls fn for every live job in seq order until fn returns false.
func (s *Store) JobsIter(fn func(*Job) bool) {
	for _, j := range s.jobs {
		if j == nil {
			continue
		}
		if !fn(j) {
			return
		}
	}
}

// Shards returns all shards sorted by name.
func (s *Store) Shards() []*Shard {
	out := make([]*Shard, 0, len(s.shards))
	for _, sh := range s.shards {
		out = append(out, sh)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Shard returns a shard by name, or nil.
func (s *Store) Shard(name string) *Shard { return s.shards[name] }

// Nodes returns all nodes sorted by id.
func (s *Store) Nodes() []*Node {
	out := make([]*Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Node returns a node by id, or nil.
func (s *Store) Node(id string) *Node { return s.nodes[id] }

// NodesOfShard returns the nodes of a shard sorted by id.
func (s *Store) NodesOfShard(name string) []*Node {
	var out []*Node
	for _, n := range s.nodes {
		if n.Shard == name {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// QueueLen is the number of queued jobs in a shard.
func (s *Store) QueueLen(shard string) int {
	if q := s.queues[shard]; q != nil {
		return q.n
	}
	return 0
}

// Queue calls fn for the queued jobs of a shard in priority (desc) then seq
// (asc) order until fn returns false.
func (s *Store) Queue(shard string, fn func(*Job) bool) {
	if q := s.queues[shard]; q != nil {
		q.each(false, func(seq uint64) bool { return fn(s.at(seq)) })
	}
}

// QueueReverse is Queue from the tail: the job the scheduler would take last
// comes first.
func (s *Store) QueueReverse(shard string, fn func(*Job) bool) {
	if q := s.queues[shard]; q != nil {
		q.each(true, func(seq uint64) bool { return fn(s.at(seq)) })
	}
}

// ParkedLen is the number of parked jobs.
func (s *Store) ParkedLen() int { return len(s.parked) }

// Parked calls fn for parked jobs in seq order until fn returns false.
func (s *Store) Parked(fn func(*Job) bool) {
	seqs := make([]uint64, 0, len(s.parked))
	for seq := range s.parked {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, seq := range seqs {
		if !fn(s.at(seq)) {
			return
		}
	}
}

// Active calls fn for the assigned and running jobs of a node in seq order.
func (s *Store) Active(node string, fn func(*Job) bool) {
	for _, seq := range s.active[node] {
		if !fn(s.at(seq)) {
			return
		}
	}
}

// ActiveCount is the number of assigned and running jobs on a node.
func (s *Store) ActiveCount(node string) int { return len(s.active[node]) }

// CompletedOn is the number of jobs a node has completed (for its quota).
func (s *Store) CompletedOn(node string) int64 {
	if c := s.nodeCounts[node]; c != nil {
		return c.N[JobCompleted]
	}
	return 0
}

// Global returns the ledger counts over all jobs.
func (s *Store) Global() Counts { return s.global }

// ShardCounts returns the counts of jobs whose current shard is name.
func (s *Store) ShardCounts(name string) Counts {
	if c := s.shardCounts[name]; c != nil {
		return *c
	}
	return Counts{}
}

// NodeCounts returns the counts of jobs that name the node (assigned,
// running, or finished there).
func (s *Store) NodeCounts(id string) Counts {
	if c := s.nodeCounts[id]; c != nil {
		return *c
	}
	return Counts{}
}

// AllShardCounts returns every shard's counts sorted by name (including
// shards deregistered since, whose finished jobs stay counted).
func (s *Store) AllShardCounts() []NamedCounts { return namedCounts(s.shardCounts) }

// AllNodeCounts returns every node's counts sorted by id.
func (s *Store) AllNodeCounts() []NamedCounts { return namedCounts(s.nodeCounts) }

func namedCounts(m map[string]*Counts) []NamedCounts {
	out := make([]NamedCounts, 0, len(m))
	for k, c := range m {
		out = append(out, NamedCounts{Name: k, Counts: *c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Flows returns spillover flows sorted by (From, To).
func (s *Store) Flows() []Flow {
	out := make([]Flow, 0, len(s.flows))
	for _, f := range s.flows {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// Payments returns node payments sorted by node id.
func (s *Store) Payments() []Payment {
	out := make([]Payment, 0, len(s.payments))
	for n, a := range s.payments {
		out = append(out, Payment{Node: n, AmountMu: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// PaymentTo returns the amount paid to one node.
func (s *Store) PaymentTo(node string) int64 { return s.payments[node] }

// Policy returns the owner policy. Its slices are shared: read only.
func (s *Store) Policy() Policy { return s.policy }

// Clock is the mission clock: the latest ClockAdvance time (Unix ns).
func (s *Store) Clock() int64 { return s.meta.Clock }

// Head is the event chain head.
func (s *Store) Head() ChainHead { return s.meta.Head }

// Meta returns the store's bookkeeping (head, events, clock, index).
func (s *Store) Meta() StoreMeta { return s.meta }

// AppliedIndex is the raft index of the last applied entry.
func (s *Store) AppliedIndex() uint64 { return s.meta.Index }

// ACLBootstrapped reports whether the first management token was stored.
func (s *Store) ACLBootstrapped() bool { return s.meta.ACLBootstrapped }

// Tokens returns ACL tokens sorted by accessor id.
func (s *Store) Tokens() []Token {
	out := make([]Token, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccessorID < out[j].AccessorID })
	return out
}

// Token returns a token by accessor id.
func (s *Store) Token(accessor string) (Token, bool) {
	if t := s.tokens[accessor]; t != nil {
		return *t, true
	}
	return Token{}, false
}

// TokenByHash returns the token whose secret hashes to hash (hex sha256).
func (s *Store) TokenByHash(hash string) (Token, bool) {
	if a, ok := s.tokenByHash[hash]; ok {
		return *s.tokens[a], true
	}
	return Token{}, false
}

// ClientIdentity returns the identity issued to the client agent name
// (revoked ones included).
func (s *Store) ClientIdentity(name string) (Token, bool) {
	var best *Token
	for _, t := range s.tokens {
		if t.Type == TokenClientIdentity && t.Name == name && (best == nil || t.AccessorID < best.AccessorID) {
			best = t
		}
	}
	if best == nil {
		return Token{}, false
	}
	return *best, true
}

// ---- writes (raftfsm only) ----

// PutJob inserts a new job (Seq == 0: the next seq is assigned and the ID and
// Key are indexed; the caller checks they are unused) or replaces the job with
// the same Seq. Queues, active sets, the parked set and the ledger counts are
// updated from the difference between the old and the new record. j must not
// be modified afterwards.
func (s *Store) PutJob(j *Job) {
	s.internJob(j)
	if j.Seq == 0 {
		j.Seq = uint64(s.NumJobs()) + 1
		s.jobs = append(s.jobs, j)
		s.nlive++
		s.ids.add(j.ID, uint32(j.Seq), s.idOf)
		if j.Key != "" {
			s.keys.add(j.Key, uint32(j.Seq), s.keyOf)
		}
		s.link(j, true)
		if isActive(j.State) {
			s.logAssigned(j)
		}
		return
	}
	old := s.JobBySeq(j.Seq)
	if old == nil {
		panic(fmt.Sprintf("state: job %d was collected", j.Seq))
	}
	if old.ID != j.ID || old.Key != j.Key {
		panic(fmt.Sprintf("state: job %d changed id or key", j.Seq))
	}
	s.unlink(old)
	s.jobs[j.Seq-1-s.jobBase] = j
	s.link(j, true)
	if isActive(j.State) && !(isActive(old.State) && old.Attempt == j.Attempt && old.Node == j.Node) {
		s.logAssigned(j)
	}
}

func isActive(st JobState) bool { return st == JobAssigned || st == JobRunning }

func (s *Store) counts(m map[string]*Counts, k string) *Counts {
	c := m[k]
	if c == nil {
		c = &Counts{}
		m[k] = c
	}
	return c
}

func (s *Store) account(j *Job, sign int64) {
	st, v := j.State, sign*j.ValueMu
	s.global.N[st] += sign
	s.global.ValueMu[st] += v
	c := s.counts(s.shardCounts, j.Shard)
	c.N[st] += sign
	c.ValueMu[st] += v
	if j.Node != "" {
		c = s.counts(s.nodeCounts, j.Node)
		c.N[st] += sign
		c.ValueMu[st] += v
	}
}

func (s *Store) link(j *Job, withCounts bool) {
	if withCounts {
		s.account(j, 1)
	}
	switch j.State {
	case JobQueued:
		if s.ho.inFlight[j.Seq] != "" {
			break // out of placement while its hand-off is open
		}
		q := s.queues[j.Shard]
		if q == nil {
			q = newShardQueue()
			s.queues[j.Shard] = q
		}
		q.insert(j.Priority, j.Seq)
	case JobAssigned, JobRunning:
		s.active[j.Node] = sortedInsert(s.active[j.Node], j.Seq)
	case JobParked:
		s.parked[j.Seq] = struct{}{}
	}
}

func (s *Store) unlink(j *Job) {
	s.account(j, -1)
	switch j.State {
	case JobQueued:
		if s.ho.inFlight[j.Seq] != "" {
			break
		}
		if q := s.queues[j.Shard]; q != nil {
			q.remove(j.Priority, j.Seq)
		}
	case JobAssigned, JobRunning:
		a := sortedRemove(s.active[j.Node], j.Seq)
		if len(a) == 0 {
			delete(s.active, j.Node)
		} else {
			s.active[j.Node] = a
		}
	case JobParked:
		delete(s.parked, j.Seq)
	}
}

// PutShard inserts or replaces a shard.
func (s *Store) PutShard(sh *Shard) {
	sh.Name = s.Intern(sh.Name)
	s.shards[sh.Name] = sh
}

// DeleteShard removes a shard record. Its jobs must have left it (their
// counts stay under the shard's name in ShardCounts).
func (s *Store) DeleteShard(name string) {
	delete(s.shards, name)
	if q := s.queues[name]; q != nil && q.n == 0 {
		delete(s.queues, name)
	}
}

// PutNode inserts or replaces a node.
func (s *Store) PutNode(n *Node) {
	n.ID = s.Intern(n.ID)
	n.Shard = s.Intern(n.Shard)
	s.nodes[n.ID] = n
}

// AddFlow adds jobs and value to the spillover flow from -> to. Apply
// checks the sum first (CheckFlow).
func (s *Store) AddFlow(from, to string, jobs, valueMu int64) {
	k := [2]string{from, to}
	f := s.flows[k]
	f.From, f.To = from, to
	f.Jobs += jobs
	f.ValueMu += valueMu
	s.flows[k] = f
	s.flowTotal = satAdd(s.flowTotal, valueMu)
}

// AddPayment adds amountMu to a node's payments. Apply checks the sum first
// (CheckPayment).
func (s *Store) AddPayment(node string, amountMu int64) {
	s.payments[node] += amountMu
	s.paidTotal = satAdd(s.paidTotal, amountMu)
}

// SetPolicy replaces the policy. Its slices must be fresh copies, never
// edited in place afterwards.
func (s *Store) SetPolicy(p Policy) { s.policy = p }

// PutToken inserts a token.
func (s *Store) PutToken(t Token) {
	if old := s.tokens[t.AccessorID]; old != nil {
		delete(s.tokenByHash, old.SecretHash)
	}
	s.tokens[t.AccessorID] = &t
	s.tokenByHash[t.SecretHash] = t.AccessorID
}

// SetMeta replaces the store's bookkeeping.
func (s *Store) SetMeta(m StoreMeta) { s.meta = m }

// ---- images ----

// Image is an immutable view of a Store for snapshots: records are shared
// (they are never modified in place), slices are fresh and sorted.
type Image struct {
	Shards      []*Shard
	Nodes       []*Node
	Jobs        []*Job // by seq
	Global      Counts
	ShardCounts []NamedCounts
	NodeCounts  []NamedCounts
	Flows       []Flow
	Payments    []Payment
	Policy      Policy
	Tokens      []Token
	Meta        StoreMeta
	// Collected and Tombs are garbage collection's aggregates and the
	// idempotency window (empty in images from before it).
	Collected Collected
	Tombs     []Tomb
	// Regions are the other regions' latest checkpoints, sorted by region
	// (empty in images from before them).
	Regions []RegionCheckpoint
	// HandOffs and HandIns are the hand-offs out of and into the region,
	// sorted by id (empty in images from before them).
	HandOffs []HandOff
	HandIns  []HandIn
	// Interner, when set, holds the strings the jobs were decoded with
	// (restore); it becomes the new store's interner.
	Interner *Interner
}

// Image captures the store cheaply: it copies the job pointer slice and the
// small tables, never a job.
func (s *Store) Image() *Image {
	return &Image{
		Shards:      s.Shards(),
		Nodes:       s.Nodes(),
		Jobs:        s.liveJobs(),
		Global:      s.global,
		ShardCounts: s.AllShardCounts(),
		NodeCounts:  s.AllNodeCounts(),
		Flows:       s.Flows(),
		Payments:    s.Payments(),
		Policy:      s.policy,
		Tokens:      s.Tokens(),
		Meta:        s.imageMeta(),
		Collected:   s.gc.image(),
		Tombs:       s.gc.tombList(),
		Regions:     s.RegionCheckpoints(),
		HandOffs:    s.HandOffs(),
		HandIns:     s.HandIns(),
	}
}

// FromImage builds a fresh Store from an image (restore); it does not modify
// the image's records. Ledger counts are
// taken from the image as recorded, not recomputed, so that invariants can
// detect an inconsistent image.
func FromImage(img *Image) (*Store, error) {
	s := NewStore()
	if img.Interner != nil {
		s.in = img.Interner
	}
	for _, sh := range img.Shards {
		s.PutShard(sh)
	}
	for _, n := range img.Nodes {
		s.PutNode(n)
	}
	highest := img.Meta.Seqs
	if n := len(img.Jobs); n > 0 && img.Jobs[n-1] != nil {
		highest = max(highest, img.Jobs[n-1].Seq)
	}
	if len(img.Jobs) > 0 && img.Jobs[0] != nil && img.Jobs[0].Seq > 0 {
		s.jobBase = img.Jobs[0].Seq - 1
	} else {
		s.jobBase = highest
	}
	s.jobs = make([]*Job, highest-s.jobBase)
	s.nlive = len(img.Jobs)
	nkeys := 0
	prev := s.jobBase
	for i, j := range img.Jobs {
		if j == nil || j.Seq <= prev || j.Seq > highest {
			return nil, fmt.Errorf("%w: job at position %d has seq %d", ErrBadImage, i+1, jobSeq(j))
		}
		prev = j.Seq
		if img.Interner == nil {
			// Not from a decoder: the records may be shared with a live
			// store, so intern into copies.
			j = j.Clone()
			s.internJob(j)
		}
		s.jobs[j.Seq-1-s.jobBase] = j
		if j.Key != "" {
			nkeys++
		}
	}
	if err := s.restoreHandOffs(img.HandOffs, img.HandIns); err != nil {
		return nil, err
	}
	// The two indexes read only ID and Key; linking writes other fields and
	// tables. Build all three at once.
	var wg sync.WaitGroup
	var idErr, keyErr error
	wg.Go(func() {
		s.ids.reserve(s.nlive, s.idOf)
		for _, j := range s.jobs {
			if j == nil {
				continue
			}
			if s.ids.find(j.ID, s.idOf) != 0 {
				idErr = fmt.Errorf("%w: duplicate job id %q", ErrBadImage, j.ID)
				return
			}
			s.ids.add(j.ID, uint32(j.Seq), s.idOf)
		}
	})
	wg.Go(func() {
		s.keys.reserve(nkeys, s.keyOf)
		for _, j := range s.jobs {
			if j == nil || j.Key == "" {
				continue
			}
			if s.keys.find(j.Key, s.keyOf) != 0 {
				keyErr = fmt.Errorf("%w: duplicate job key %q", ErrBadImage, j.Key)
				return
			}
			s.keys.add(j.Key, uint32(j.Seq), s.keyOf)
		}
	})
	for _, j := range s.jobs {
		if j == nil {
			continue
		}
		s.link(j, false)
		if isActive(j.State) {
			s.logAssigned(j)
		}
	}
	wg.Wait()
	if idErr != nil {
		return nil, idErr
	}
	if keyErr != nil {
		return nil, keyErr
	}
	s.global = img.Global
	for _, c := range img.ShardCounts {
		cc := c.Counts
		s.shardCounts[s.Intern(c.Name)] = &cc
	}
	for _, c := range img.NodeCounts {
		cc := c.Counts
		s.nodeCounts[s.Intern(c.Name)] = &cc
	}
	for _, f := range img.Flows {
		s.flows[[2]string{f.From, f.To}] = f
	}
	for _, p := range img.Payments {
		s.payments[p.Node] = p.AmountMu
	}
	s.sumTotals()
	s.policy = img.Policy
	for _, t := range img.Tokens {
		s.PutToken(t)
	}
	s.meta = img.Meta
	if err := s.gc.restore(s, img.Collected, img.Tombs); err != nil {
		return nil, err
	}
	for _, cp := range img.Regions {
		if _, dup := s.regions[cp.Region]; dup || cp.Region == "" {
			return nil, fmt.Errorf("%w: region checkpoint %q twice or unnamed", ErrBadImage, cp.Region)
		}
		s.PutRegionCheckpoint(cp)
	}
	return s, nil
}

func jobSeq(j *Job) uint64 {
	if j == nil {
		return 0
	}
	return j.Seq
}
