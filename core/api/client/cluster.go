package client

import (
	"context"
	"net/http"
	"net/url"
)

// Self returns what the answering server says about itself.
func (c *Client) Self(ctx context.Context) (SelfInfo, error) {
	var out SelfInfo
	return out, c.call(ctx, http.MethodGet, "/v1/status/self", nil, nil, &out)
}

// Digest returns the FSM digest: the leader's after a read barrier, or the
// answering server's own with stale.
func (c *Client) Digest(ctx context.Context, stale bool) (Digest, error) {
	var out Digest
	var q url.Values
	if stale {
		q = url.Values{"stale": {"true"}}
	}
	return out, c.call(ctx, http.MethodGet, "/v1/status/digest", q, nil, &out)
}

// Members lists the cluster's servers.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var out []Member
	return out, c.call(ctx, http.MethodGet, "/v1/operator/members", nil, nil, &out)
}

// RaftJoin asks the cluster to add a server as a voter.
func (c *Client) RaftJoin(ctx context.Context, j RaftJoin) (SelfInfo, error) {
	var out SelfInfo
	return out, c.call(ctx, http.MethodPost, "/v1/operator/raft/join", nil, j, &out)
}

// RaftRemovePeer removes a server from the raft configuration.
func (c *Client) RaftRemovePeer(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/v1/operator/raft/remove-peer", nil, RaftPeerRequest{ID: id}, nil)
}

// RaftTransferLeader hands leadership to id (any up-to-date follower when
// empty) and returns the new leader.
func (c *Client) RaftTransferLeader(ctx context.Context, id string) (LeaderInfo, error) {
	var out LeaderInfo
	return out, c.call(ctx, http.MethodPost, "/v1/operator/raft/transfer-leader", nil, RaftPeerRequest{ID: id}, &out)
}

// SelfInfo is the body of GET /v1/status/self: a server as it sees itself.
type SelfInfo struct {
	ID           string `json:"id"`
	RaftAddr     string `json:"raft_addr"`
	HTTPAddr     string `json:"http_addr"`
	State        string `json:"state"`
	Leader       bool   `json:"leader"`
	LeaderID     string `json:"leader_id"`
	LeaderAddr   string `json:"leader_addr"`
	Term         uint64 `json:"term"`
	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index"`
	LastIndex    uint64 `json:"last_index"`
	// LastContactMs is the time since the leader was last heard from
	// (0 on the leader, -1 when never).
	LastContactMs int64 `json:"last_contact_ms"`
	// HasState is true once this server holds a raft configuration.
	HasState bool `json:"has_state"`
	// Members is the id -> HTTP address table this server knows.
	Members map[string]string `json:"members,omitempty"`
	// FormatVersion is the highest command format version the server
	// applies; peers learn it from here (the leader's version gate).
	FormatVersion uint16 `json:"format_version"`
	// Halted says why the server stopped applying the raft log ("" while
	// it applies).
	Halted string `json:"halted,omitempty"`
}

// Digest is the body of GET /v1/status/digest.
type Digest struct {
	Digest       string `json:"digest"`
	AppliedIndex uint64 `json:"applied_index"`
}

// RaftJoin is the body of POST /v1/operator/raft/join.
type RaftJoin struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// RaftPeerRequest names a raft server (remove-peer, transfer-leader).
type RaftPeerRequest struct {
	ID string `json:"id"`
}

// Member is one server in GET /v1/operator/members.
type Member struct {
	ID            string `json:"id"`
	RaftAddr      string `json:"raft_addr"`
	HTTPAddr      string `json:"http_addr"`
	Voter         bool   `json:"voter"`
	Leader        bool   `json:"leader"`
	State         string `json:"state,omitempty"`
	Term          uint64 `json:"term,omitempty"`
	AppliedIndex  uint64 `json:"applied_index"`
	LastIndex     uint64 `json:"last_index"`
	LastContactMs int64  `json:"last_contact_ms"`
	Error         string `json:"error,omitempty"`
}
