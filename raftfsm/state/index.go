package state

import (
	"slices"
	"sort"
)

// strIndex maps a string held by a job (its ID or its Key) to the job's seq.
// It is an open-addressing table (linear probing, load <= 1/2) of uint32
// seqs with a parallel byte of hash tag per slot, so a probe only touches the
// job when the tag matches. The string itself lives only in the Job: an entry
// costs 5-10 bytes instead of a Go map entry's ~50.
type strIndex struct {
	slots []uint32 // 0 = empty; len is a power of two
	tags  []uint8  // 0 = empty, else 0x80 | 7 hash bits
	n     int
}

func hashString(s string) uint64 {
	// FNV-1a, 64 bit: deterministic and cheap for short ids.
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	// FNV's low bits are weak and the table masks them: finish with the
	// murmur3 64-bit mixer.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func tagOf(h uint64) uint8 { return 0x80 | uint8(h>>57) }

// find returns the seq stored for key, or 0.
func (x *strIndex) find(key string, keyOf func(seq uint32) string) uint64 {
	if len(x.slots) == 0 {
		return 0
	}
	h := hashString(key)
	tag, mask := tagOf(h), uint64(len(x.slots)-1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch x.tags[i] {
		case 0:
			return 0
		case tag:
			if seq := x.slots[i]; keyOf(seq) == key {
				return uint64(seq)
			}
		}
	}
}

// add stores seq under key; the caller guarantees key is not present.
func (x *strIndex) add(key string, seq uint32, keyOf func(seq uint32) string) {
	if (x.n+1)*2 > len(x.slots) {
		x.resize(len(x.slots)*2, keyOf)
	}
	x.put(hashString(key), seq)
}

func (x *strIndex) put(h uint64, seq uint32) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.tags[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i], x.tags[i] = seq, tagOf(h)
	x.n++
}

func (x *strIndex) resize(size int, keyOf func(seq uint32) string) {
	size = max(size, 1024)
	oldSlots, oldTags := x.slots, x.tags
	x.slots, x.tags, x.n = make([]uint32, size), make([]uint8, size), 0
	for i, t := range oldTags {
		if t != 0 {
			x.put(hashString(keyOf(oldSlots[i])), oldSlots[i])
		}
	}
}

// reserve sizes the table for n entries at once (used by restore).
func (x *strIndex) reserve(n int, keyOf func(seq uint32) string) {
	size := 1024
	for size < n*2 {
		size *= 2
	}
	if size > len(x.slots) {
		x.resize(size, keyOf)
	}
}

// remove deletes key (which must be present) by backward shift: the entries
// after it in its probe run move up, so no tombstone slows later probes.
func (x *strIndex) remove(key string, keyOf func(seq uint32) string) {
	if len(x.slots) == 0 {
		return
	}
	h := hashString(key)
	tag, mask := tagOf(h), uint64(len(x.slots)-1)
	i := h & mask
	for {
		if x.tags[i] == 0 {
			return
		}
		if x.tags[i] == tag && keyOf(x.slots[i]) == key {
			break
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.tags[j] != 0; j = (j + 1) & mask {
		home := hashString(keyOf(x.slots[j])) & mask
		// Move j into the hole at i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i], x.tags[i] = x.slots[j], x.tags[j]
			i = j
		}
	}
	x.slots[i], x.tags[i] = 0, 0
	x.n--
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
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	if i == len(s) {
		return append(s, v)
	}
	s = append(s, 0)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// sortedRemove shifts the shorter side: attempts mostly finish in the order
// they were assigned, so removing near the front costs a reslice, not a
// copy of the whole set.
func sortedRemove(s []uint64, v uint64) []uint64 {
	i, found := slices.BinarySearch(s, v)
	if !found {
		return s
	}
	if i < len(s)/2 {
		copy(s[1:i+1], s[:i])
		return s[1:]
	}
	return append(s[:i], s[i+1:]...)
}
