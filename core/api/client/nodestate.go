package client

import (
	"context"
	"net/http"
)

// NodeState is what a client publishes about one node it hosts, read from
// the node's plugin. A nil field leaves the replicated value alone.
type NodeState struct {
	ID string `json:"id"`
	// Capabilities replace the node's capabilities (the client sends the
	// mission's declared ones united with the plugin's fingerprint).
	Capabilities *[]string `json:"capabilities,omitempty"`
	// Price replaces the node's price schedule. An empty unit keeps the
	// node's current unit.
	Price        *Price        `json:"price,omitempty"`
	Attestations *Attestations `json:"attestations,omitempty"`
	// Resources and Runtime replace those parts of the node's deployment.
	Resources *Resources `json:"resources,omitempty"`
	Runtime   *string    `json:"runtime,omitempty"`
	// Plugin is the state of the node's plugin process.
	Plugin *PluginState `json:"plugin,omitempty"`
}

// PluginState is a node's plugin as its client's catalog sees it.
type PluginState struct {
	// State is starting, up, refused, crashed or backing_off.
	State   string `json:"state"`
	Crashes int64  `json:"crashes,omitempty"`
	// Reason is why the plugin is not up ("" when up).
	Reason string `json:"reason,omitempty"`
}

// ClientNodeState is the body of POST /v1/client/nodes/state.
type ClientNodeState struct {
	Client string      `json:"client"`
	Nodes  []NodeState `json:"nodes"`
}

// NodeStateResult answers POST /v1/client/nodes/state: the nodes whose
// replicated state changed (one NodeUpdate each), and those skipped because
// they do not exist, are retired or are hosted by another client.
type NodeStateResult struct {
	Updated []string `json:"updated"`
	Skipped []string `json:"skipped,omitempty"`
	Index   uint64   `json:"index,omitempty"`
}

// ClientNodeState publishes node state read from plugins.
func (c *Client) ClientNodeState(ctx context.Context, s ClientNodeState) (NodeStateResult, error) {
	var out NodeStateResult
	err := c.call(ctx, http.MethodPost, "/v1/client/nodes/state", nil, s, &out)
	return out, err
}
