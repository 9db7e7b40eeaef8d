package server

import (
	"sync"
	"time"

	"github.com/planetary/planetary/raftfsm/state"
)

// NodeInfo is what the leader learns from heartbeats and keeps in memory
// only: when each node's last accepted heartbeat arrived and the pid of the
// plugin process serving it. It is never replicated; a new leader starts
// empty and fills it from the next beats. Safe for concurrent use.
type NodeInfo struct {
	mu    sync.Mutex
	nodes map[string]nodeInfo
}

type nodeInfo struct {
	last time.Time
	pid  int
}

// NewNodeInfo returns an empty NodeInfo.
func NewNodeInfo() *NodeInfo { return &NodeInfo{nodes: map[string]nodeInfo{}} }

// Record notes a heartbeat of node at the given time, from a plugin with
// the given pid (0 when the client does not know it).
func (ni *NodeInfo) Record(node string, pid int, at time.Time) {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	ni.nodes[node] = nodeInfo{last: at, pid: pid}
}

// LastHeartbeat is when the last heartbeat of node arrived.
func (ni *NodeInfo) LastHeartbeat(node string) (time.Time, bool) {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	n, ok := ni.nodes[node]
	return n.last, ok
}

// PluginPid is the pid the last heartbeat of node reported (0 when none).
func (ni *NodeInfo) PluginPid(node string) int {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	return ni.nodes[node].pid
}

// Forget drops everything known about node.
func (ni *NodeInfo) Forget(node string) {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	delete(ni.nodes, node)
}

// PidBeat is a heartbeat with the pid of the plugin serving the node.
type PidBeat struct {
	NodeBeat
	PluginPid int
}

// Tracking is a Server whose accepted heartbeats are also recorded in a
// NodeInfo. It is what the HTTP API is given, so node views can show each
// node's heartbeat age and plugin pid; everything else is the Server's.
type Tracking struct {
	*Server
	Info *NodeInfo
}

// Track wraps s with an empty NodeInfo.
func Track(s *Server) *Tracking { return &Tracking{Server: s, Info: NewNodeInfo()} }

// HeartbeatPids is Heartbeat for beats that carry plugin pids: after the
// server accepts the beats, the ones for nodes the client hosts are
// recorded. Leader only (ErrNotLeader otherwise, nothing recorded).
func (t *Tracking) HeartbeatPids(client string, beats []PidBeat) error {
	plain := make([]NodeBeat, len(beats))
	for i, b := range beats {
		plain[i] = b.NodeBeat
	}
	err := t.Server.Heartbeat(client, plain)
	if err != nil && !t.IsLeader() {
		return err
	}
	now := time.Now()
	t.fsm.Read(func(st *state.Store) {
		for _, b := range beats {
			if n := st.Node(b.ID); n != nil && n.Client == client && n.Status != state.NodeRetired {
				t.Info.Record(b.ID, b.PluginPid, now)
			}
		}
	})
	return err
}

// Heartbeat records beats without pids; see HeartbeatPids.
func (t *Tracking) Heartbeat(client string, beats []NodeBeat) error {
	pb := make([]PidBeat, len(beats))
	for i, b := range beats {
		pb[i] = PidBeat{NodeBeat: b}
	}
	return t.HeartbeatPids(client, pb)
}

// LastHeartbeat is when the last heartbeat of node reached this server
// while it led; false on a follower or before any beat.
func (t *Tracking) LastHeartbeat(node string) (time.Time, bool) {
	if !t.IsLeader() {
		return time.Time{}, false
	}
	return t.Info.LastHeartbeat(node)
}

// PluginPid is the pid of the plugin serving node as its last heartbeat
// reported; 0 on a follower or when unknown.
func (t *Tracking) PluginPid(node string) int {
	if !t.IsLeader() {
		return 0
	}
	return t.Info.PluginPid(node)
}
