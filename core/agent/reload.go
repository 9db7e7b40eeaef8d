package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/catalog"
	"github.com/planetary/planetary/core/client"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/raftfsm/state"
)

// ErrReload wraps every ReloadPlugins failure; the plugins in force stay.
var ErrReload = errors.New("agent: reload")

// pluginBlocks are the plugin blocks in force.
func (a *Agent) pluginBlocks() []mission.PluginSpec {
	a.pmu.Lock()
	defer a.pmu.Unlock()
	if a.plugins == nil {
		return a.cfg.Agent.Plugins
	}
	return a.plugins
}

// blockName names a plugin block for the operator: `plugin "geo" in
// agent.hcl`.
func blockName(p mission.PluginSpec, kind string) string {
	name := p.Name
	if name == "" {
		name = kind
	}
	if f := p.ConfigSource.Block.Filename; f != "" {
		return fmt.Sprintf("plugin %q in %s", name, filepath.Base(f))
	}
	return fmt.Sprintf("plugin %q", name)
}

// ReloadResult says what a reload changed.
type ReloadResult struct {
	// Relaunched are the nodes whose plugin was launched again with its
	// new spec (or, refused or down, given another try).
	Relaunched []string
	// Failed maps a relaunched node to its launch error.
	Failed map[string]error
	// Ignored lists the plugin blocks added or removed: serving a new kind
	// or dropping one takes an agent restart.
	Ignored []string
}

// ReloadPlugins puts the plugin blocks and pins of plugins in force: every
// node whose plugin spec changed, or whose plugin is not up, is relaunched
// with its new spec; plugins that are up with an unchanged spec keep
// running. Blocks added or removed are reported and left for a restart.
func (a *Agent) ReloadPlugins(ctx context.Context, plugins []mission.PluginSpec) (ReloadResult, error) {
	res := ReloadResult{Failed: map[string]error{}}
	if a.cat == nil {
		return res, fmt.Errorf("%w: no client role, so no plugins", ErrReload)
	}
	old := map[string]bool{}
	for _, p := range a.pluginBlocks() {
		old[p.Name] = true
	}
	next := map[string]bool{}
	var kept []mission.PluginSpec
	for _, p := range plugins {
		next[p.Name] = true
		if old[p.Name] {
			kept = append(kept, p)
		} else {
			res.Ignored = append(res.Ignored, p.Name)
		}
	}
	for _, p := range a.pluginBlocks() {
		if !next[p.Name] {
			res.Ignored = append(res.Ignored, p.Name)
			kept = append(kept, p) // removal takes a restart: keep serving
		}
	}
	a.pmu.Lock()
	a.plugins = kept
	a.pmu.Unlock()

	cats := []*catalog.Catalog{a.cat}
	a.dmu.Lock()
	for _, c := range a.dyn {
		cats = append(cats, c)
	}
	a.dmu.Unlock()
	for _, cat := range cats {
		for _, st := range cat.Status() {
			cur, ok := cat.Spec(st.Name)
			if !ok {
				continue
			}
			spec, err := a.pluginSpec(state.Node{ID: cur.Name, PluginKind: cur.Kind, Shard: cur.Node.Shard})
			if err != nil {
				res.Failed[cur.Name] = err
				continue
			}
			spec.Node = cur.Node
			if reflect.DeepEqual(spec, cur) && st.State == catalog.StateUp {
				continue
			}
			relaunched, err := cat.Update(ctx, spec)
			if relaunched {
				res.Relaunched = append(res.Relaunched, cur.Name)
			}
			if err != nil {
				res.Failed[cur.Name] = err
			}
		}
	}
	return res, nil
}

// agentCatalog is the client's view of the agent's catalogs: the agent
// config's, then the one of each node claimed after start.
type agentCatalog struct{ a *Agent }

func (c agentCatalog) find(node string) *catalog.Catalog {
	a := c.a
	if a.cat != nil {
		if _, ok := a.cat.Spec(node); ok {
			return a.cat
		}
	}
	a.dmu.Lock()
	defer a.dmu.Unlock()
	return a.dyn[node]
}

// Executor implements client.Catalog.
func (c agentCatalog) Executor(ctx context.Context, n state.Node) (client.Executor, error) {
	cat := c.find(n.ID)
	if cat == nil {
		return nil, fmt.Errorf("%w: %q", catalog.ErrUnknownPlugin, n.ID)
	}
	p, err := cat.Get(n.ID)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// PluginState implements client.PluginStater.
func (c agentCatalog) PluginState(node string) (api.PluginState, bool) {
	cat := c.find(node)
	if cat == nil {
		return api.PluginState{}, false
	}
	st, ok := cat.State(node)
	if !ok {
		return api.PluginState{}, false
	}
	return api.PluginState{State: st.State, Crashes: int64(st.Crashes), Reason: st.Reason}, true
}

var (
	_ client.Catalog      = agentCatalog{}
	_ client.PluginStater = agentCatalog{}
)
