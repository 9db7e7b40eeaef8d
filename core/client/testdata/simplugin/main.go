// Command simplugin serves the built-in sim agent as a plugin process for
// the client role's end-to-end tests.
package main

import (
	"github.com/planetary/planetary/plugins/sim"
	"github.com/planetary/planetary/sdk"
)

func main() { sdk.Serve(sim.New) }
