// Command planetary is the single binary of the planetary orchestrator: the
// agent (server and client roles), the CLI that talks to its HTTP API, the
// built-in agent plugins (re-executed as `planetary plugin serve NAME`) and the
// offline tools (snapshot inspect, ledger verify, report).
package main

import (
	"os"
)

func main() {
	os.Exit(Run(os.Args[1:]))
}
