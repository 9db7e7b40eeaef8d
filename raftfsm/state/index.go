package state

import "sort"

// strIndex maps a string held by a job (its ID or its Key) to the job's seq.
// It is an open-addressing table of uint32 seqs; the string itself lives only
// in the Job, so an entry costs 4-8 bytes instead of a map entry's ~50.
type strIndex struct {
	slots []uint32 // 0 = empty; len is a power of two
	n     int
}

func hashString(s string) uint64 {
	// FNV-1a, 64 bit: deterministic and cheap for short ids.
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// find returns the seq stored for key, or 0.
func (x *strIndex) find(key string, keyOf func(seq uint32) string) uint64 {
	if len(x.slots) == 0 {
		return 0
	}
	mask := uint64(len(x.slots) - 1)
	for i := hashString(key) & mask; ; i = (i + 1) & mask {
		seq := x.slots[i]
		if seq == 0 {
			return 0
		}
		if keyOf(seq) == key {
			return uint64(seq)
		}
	}
}

// add stores seq under key; the caller guarantees key is not present.
func (x *strIndex) add(key string, seq uint32, keyOf func(seq uint32) string) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow(keyOf)
	}
	mask := uint64(len(x.slots) - 1)
	i := hashString(key) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = seq
	x.n++
}

func (x *strIndex) grow(keyOf func(seq uint32) string) {
	size := 1024
	if len(x.slots) > 0 {
		size = len(x.slots) * 2
	}
	old := x.slots
	x.slots = make([]uint32, size)
	x.n = 0
	for _, seq := range old {
		if seq != 0 {
			x.add(keyOf(seq), seq, keyOf)
		}
	}
}

// reserve sizes the table for n entries at once (used by restore).
func (x *strIndex) reserve(n int) {
	size := 1024
	for size*3 < n*4 {
		size *= 2
	}
	if size > len(x.slots) && x.n == 0 {
		x.slots = make([]uint32, size)
	}
}

const deadBit = uint64(1) << 63

// seqList is a sorted list of job seqs (one priority level of a shard queue).
// New submissions have the largest seq and append at the end; the scheduler
// takes from the front by advancing head; requeued jobs (old seqs) insert near
// the front by shifting into the head gap. Removal in the middle leaves a
// tombstone (deadBit) that keeps the order, compacted when tombstones dominate.
type seqList struct {
	s    []uint64
	head int
	dead int
}

func (l *seqList) live() int { return len(l.s) - l.head - l.dead }

func (l *seqList) search(seq uint64) int {
	return l.head + sort.Search(len(l.s)-l.head, func(i int) bool { return l.s[l.head+i]&^deadBit >= seq })
}

func (l *seqList) insert(seq uint64) {
	n := len(l.s)
	if n == l.head {
		l.s, l.head, l.dead = append(l.s[:0], seq), 0, 0
		return
	}
	if l.s[n-1]&^deadBit < seq {
		l.s = append(l.s, seq)
		return
	}
	i := l.search(seq)
	if i < n && l.s[i] == seq|deadBit {
		l.s[i] = seq
		l.dead--
		return
	}
	if l.head > 0 && i-l.head < n-i {
		copy(l.s[l.head-1:], l.s[l.head:i])
		l.head--
		l.s[i-1] = seq
		return
	}
	l.s = append(l.s, 0)
	copy(l.s[i+1:], l.s[i:n])
	l.s[i] = seq
}

func (l *seqList) remove(seq uint64) bool {
	i := l.search(seq)
	if i >= len(l.s) || l.s[i] != seq {
		return false
	}
	switch {
	case i == l.head:
		l.head++
		for l.head < len(l.s) && l.s[l.head]&deadBit != 0 {
			l.head++
			l.dead--
		}
		if l.head == len(l.s) {
			l.s, l.head, l.dead = l.s[:0], 0, 0
		} else if l.head > 1024 && l.head > len(l.s)/2 {
			l.compact()
		}
	case i == len(l.s)-1:
		l.s = l.s[:i]
		for len(l.s) > l.head && l.s[len(l.s)-1]&deadBit != 0 {
			l.s = l.s[:len(l.s)-1]
			l.dead--
		}
	default:
		l.s[i] |= deadBit
		l.dead++
		if l.dead > 32 && l.dead > l.live() {
			l.compact()
		}
	}
	return true
}

func (l *seqList) compact() {
	j := 0
	for i := l.head; i < len(l.s); i++ {
		if l.s[i]&deadBit == 0 {
			l.s[j] = l.s[i]
			j++
		}
	}
	l.s, l.head, l.dead = l.s[:j], 0, 0
}

// each calls fn for live seqs in ascending order (descending if rev) until fn
// returns false; it reports whether iteration ran to the end.
func (l *seqList) each(rev bool, fn func(seq uint64) bool) bool {
	if rev {
		for i := len(l.s) - 1; i >= l.head; i-- {
			if l.s[i]&deadBit == 0 && !fn(l.s[i]) {
				return false
			}
		}
		return true
	}
	for i := l.head; i < len(l.s); i++ {
		if l.s[i]&deadBit == 0 && !fn(l.s[i]) {
			return false
		}
	}
	return true
}

// shardQueue orders a shard's queued jobs by (priority desc, seq asc).
type shardQueue struct {
	prios []int64 // descending
	lists map[int64]*seqList
	n     int
}

func newShardQueue() *shardQueue { return &shardQueue{lists: make(map[int64]*seqList)} }

func (q *shardQueue) insert(prio int64, seq uint64) {
	l := q.lists[prio]
	if l == nil {
		l = &seqList{}
		q.lists[prio] = l
		i := sort.Search(len(q.prios), func(i int) bool { return q.prios[i] < prio })
		q.prios = append(q.prios, 0)
		copy(q.prios[i+1:], q.prios[i:])
		q.prios[i] = prio
	}
	l.insert(seq)
	q.n++
}

func (q *shardQueue) remove(prio int64, seq uint64) bool {
	l := q.lists[prio]
	if l == nil || !l.remove(seq) {
		return false
	}
	q.n--
	return true
}

func (q *shardQueue) each(rev bool, fn func(seq uint64) bool) {
	if rev {
		for i := len(q.prios) - 1; i >= 0; i-- {
			if !q.lists[q.prios[i]].each(true, fn) {
				return
			}
		}
		return
	}
	for _, p := range q.prios {
		if !q.lists[p].each(false, fn) {
			return
		}
	}
}

// sortedInsert / sortedRemove keep a small ascending []uint64 (a node's
// active set).
func sortedInsert(s []uint64, v uint64) []uint64 {
	i := sort.Search(len(s), func(i int) bool { return s[i] >= v })
	if i < len(s) && s[i] == v {
		return s
	}
	s = append(s, 0)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func sortedRemove(s []uint64, v uint64) []uint64 {
	i := sort.Search(len(s), func(i int) bool { return s[i] >= v })
	if i < len(s) && s[i] == v {
		return append(s[:i], s[i+1:]...)
	}
	return s
}
