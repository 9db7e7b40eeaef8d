package state

// Clone returns a shallow copy of the job; slices are shared and read-only.
func (j *Job) Clone() *Job { c := *j; return &c }

// Clone returns a shallow copy of the node; slices are shared and read-only.
func (n *Node) Clone() *Node { c := *n; return &c }

// Clone returns a shallow copy of the shard; slices are shared and read-only.
func (s *Shard) Clone() *Shard { c := *s; return &c }
