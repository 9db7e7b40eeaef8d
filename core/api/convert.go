package api

import (
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/raftfsm/state"
)

// The record <-> view conversions live in core/api/view; the handlers call
// them by these names.

// JobView converts a job record to its JSON view.
func JobView(j *state.Job) Job { return view.Job(j) }

// UnitsRecord converts units per dimension to sorted quantities.
func UnitsRecord(m map[string]float64) ([]state.Quantity, error) { return view.UnitsRecord(m) }

// CountsView converts per-state counts, leaving out empty states.
func CountsView(c state.Counts) Counts { return view.Counts(c) }

// ShardView converts a shard record to its JSON view (without counts).
func ShardView(s *state.Shard) Shard { return view.Shard(s) }

// ShardRecord converts a shard view to the replicated record.
func ShardRecord(s Shard) state.Shard { return view.ShardRecord(s) }

// NodeView converts a node record to its JSON view (without live figures).
func NodeView(n *state.Node) Node { return view.Node(n) }

// NodeRecord converts a node view to the replicated record.
func NodeRecord(n Node) state.Node { return view.NodeRecord(n) }

func priceRecord(p Price) state.PriceSchedule              { return view.PriceRecord(p) }
func deploymentRecord(d Deployment) state.Deployment       { return view.DeploymentRecord(d) }
func attestationsView(a state.Attestations) Attestations   { return view.Attestations(a) }
func attestationsRecord(a Attestations) state.Attestations { return view.AttestationsRecord(a) }

// TokenTypeName returns the API name of a token type.
func TokenTypeName(t state.TokenType) string { return t.String() }

// ParseTokenType is the inverse of TokenTypeName.
func ParseTokenType(s string) (state.TokenType, bool) {
	switch s {
	case TokenTypeRead:
		return state.TokenRead, true
	case TokenTypeSubmit:
		return state.TokenSubmit, true
	case TokenTypeManagement:
		return state.TokenManagement, true
	case TokenTypeClient:
		return state.TokenClient, true
	}
	return state.TokenNone, false
}
