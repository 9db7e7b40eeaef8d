package health

import "github.com/planetary/planetary/raftfsm/state"

// Shards computes the verdict of every shard of s, by name. Call it
// inside raftfsm.FSM.Read; it scans the nodes once.
func Shards(s *state.Store) map[string]Verdict {
	type nodes struct{ all, down int64 }
	byShard := map[string]nodes{}
	for _, n := range s.Nodes() {
		if n.Status == state.NodeRetired {
			continue
		}
		c := byShard[n.Shard]
		c.all++
		if n.Status == state.NodeDown {
			c.down++
		}
		byShard[n.Shard] = c
	}
	paused := s.Policy().SystemPaused
	out := map[string]Verdict{}
	for _, sh := range s.Shards() {
		c := s.ShardCounts(sh.Name)
		nc := byShard[sh.Name]
		out[sh.Name] = Of(Shard{
			Paused: sh.Paused || paused, QueueDepth: int64(s.QueueLen(sh.Name)),
			MaxQueue: sh.MaxQueue, QueueAlertThreshold: sh.QueueAlertThreshold,
			Parked: c.N[state.JobParked], Failed: c.N[state.JobFailed],
			Nodes: nc.all, NodesDown: nc.down,
		})
	}
	return out
}
