// Package plugins bundles planetary's built-in agents. The planetary binary
// serves each one out of process with `planetary plugin serve NAME`, which
// calls sdk.Serve(Builtins()[NAME]).
package plugins

import (
	"github.com/planetary/planetary/plugins/compliance"
	"github.com/planetary/planetary/plugins/container"
	"github.com/planetary/planetary/plugins/exec"
	"github.com/planetary/planetary/plugins/gpu"
	"github.com/planetary/planetary/plugins/inference"
	"github.com/planetary/planetary/plugins/sim"
	"github.com/planetary/planetary/sdk"
)

// Builtins maps each built-in agent's name to its constructor.
func Builtins() map[string]func() sdk.Agent {
	return map[string]func() sdk.Agent{
		"compliance": compliance.New,
		"container":  container.New,
		"exec":       exec.New,
		"gpu":        gpu.New,
		"inference":  inference.New,
		"sim":        sim.New,
	}
}
