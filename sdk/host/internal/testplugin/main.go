// Command testplugin is a minimal agent used by sdk/host's tests: it
// executes tasks instantly, or sleeps for the payload's number of
// milliseconds, exits the process for the payload "crash", and answers the
// payload "output:N" with an output of N bytes.
package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/planetary/planetary/sdk"
)

type agent struct{}

func (agent) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "testplugin", Version: "1", APIVersions: []string{sdk.APIVersion1}}, nil
}

func (agent) Schema(context.Context) (sdk.Schema, error) { return sdk.Schema{}, nil }

func (agent) Configure(context.Context, sdk.Config) error { return nil }

func (agent) Execute(ctx context.Context, t sdk.Task) (sdk.Result, error) {
	switch p := string(t.Payload); p {
	case "":
		return sdk.Result{OK: true}, nil
	case "crash":
		os.Exit(7)
	case "binary":
		return sdk.Result{OK: true, Output: "\xff\xfeok"}, nil
	default:
		if n, ok := strings.CutPrefix(p, "output:"); ok {
			size, _ := strconv.Atoi(n)
			return sdk.Result{OK: true, Output: strings.Repeat("o", size)}, nil
		}
		ms, _ := strconv.Atoi(p)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return sdk.Result{}, ctx.Err()
		}
	}
	return sdk.Result{OK: true}, nil
}

var _ sdk.Executor = agent{}

func main() {
	// TESTPLUGIN_IGNORE_TLS_FD=1 plays a plugin that does not read the
	// host's descriptor (another SDK): go-plugin's automatic mTLS answers.
	if os.Getenv("TESTPLUGIN_IGNORE_TLS_FD") == "1" {
		os.Unsetenv("PLANETARY_PLUGIN_TLS_FD")
	}
	sdk.Serve(func() sdk.Agent { return agent{} })
}
