package state

// Clone returns a shallow copy of the job; slices are shared and read-only.
func (j *Job) Clone() *Job { c := *j; return &c }

// Clone returns a shallow copy of the node; slices are shared and read-only.
func (n *Node) Clone() *Node { c := *n; return &c }

// Clone returns a shallow copy of the shard; slices are shared and read-only.
func (s *Shard) Clone() *Shard { c := *s; return &c }

// SpillAny in a shard's SpilloverTargets stands for every other shard, by
// name, at its place in the list.
const SpillAny = "*"

// SpillsTo reports whether target is one of the shard's declared spillover
// targets: listed in SpilloverTargets (or covered by SpillAny there), or the
// target of one of its Policies. A shard never spills to itself.
func (s *Shard) SpillsTo(target string) bool {
	if target == s.Name {
		return false
	}
	for _, t := range s.SpilloverTargets {
		if t == target || t == SpillAny {
			return true
		}
	}
	for i := range s.Policies {
		if s.Policies[i].Target == target {
			return true
		}
	}
	return false
}
