package raftfsm_test

import (
	"testing"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

// One precedence rule between a plugin's published schedule and the
// mission's price block: the plugin's wins once published, and the
// mission's (or an owner's) is kept as the declared price, changed by a
// re-applied mission or an owner update without displacing the plugin's.
func TestPluginPriceOverridesMission(t *testing.T) {
	mission := func(a *fsmtest.Applier, digest string, baseMu int64) {
		mustApply(t, a, command.MissionApplyType, &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "m", Digest: digest,
			Shards: []state.Shard{{Name: "eu"}},
			Nodes:  []state.Node{{ID: "a", Shard: "eu", Capacity: 1, Price: state.PriceSchedule{BaseMu: baseMu}}}})
	}
	update := func(a *fsmtest.Applier, field string, p state.PriceSchedule) {
		mustApply(t, a, command.NodeUpdateType, &command.NodeUpdate{Meta: command.Meta{Time: 3}, ID: "a",
			Fields: []string{field}, Node: state.Node{Price: p}})
	}
	plugin := state.PriceSchedule{BaseMu: 100_000, Rates: []state.PriceRate{{Unit: "token", PerUnitMu: 1000}}}
	cases := []struct {
		name         string
		steps        func(a *fsmtest.Applier)
		wantBase     int64
		wantSource   string
		wantDeclared int64
	}{
		{"mission only", func(a *fsmtest.Applier) {}, 20_000, "", 0},
		{"owner update without a plugin schedule", func(a *fsmtest.Applier) {
			update(a, "price", state.PriceSchedule{BaseMu: 30_000})
		}, 30_000, "", 0},
		{"plugin published", func(a *fsmtest.Applier) { update(a, "plugin_price", plugin) }, 100_000, state.PricePlugin, 20_000},
		{"mission re-applied after the plugin", func(a *fsmtest.Applier) {
			update(a, "plugin_price", plugin)
			mission(a, "d2", 25_000)
		}, 100_000, state.PricePlugin, 25_000},
		{"owner update after the plugin", func(a *fsmtest.Applier) {
			update(a, "plugin_price", plugin)
			update(a, "price", state.PriceSchedule{BaseMu: 40_000})
		}, 100_000, state.PricePlugin, 40_000},
		{"plugin republished", func(a *fsmtest.Applier) {
			update(a, "plugin_price", plugin)
			update(a, "plugin_price", state.PriceSchedule{BaseMu: 5_000})
		}, 5_000, state.PricePlugin, 20_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}
			mission(a, "d1", 20_000)
			tc.steps(a)
			var n state.Node
			a.FSM.Read(func(s *state.Store) { n = *s.Node("a") })
			if n.Price.BaseMu != tc.wantBase || n.PriceSource != tc.wantSource || n.DeclaredPrice.BaseMu != tc.wantDeclared {
				t.Fatalf("price %d source %q declared %d; want %d %q %d", n.Price.BaseMu, n.PriceSource, n.DeclaredPrice.BaseMu,
					tc.wantBase, tc.wantSource, tc.wantDeclared)
			}
		})
	}
}
