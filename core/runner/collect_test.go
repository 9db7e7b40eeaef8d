package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	httpapi "github.com/planetary/planetary/core/api"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
)

const collectMission = `
mission "collect" {
  seed = 3
}

checkpoint {
  interval = "1h"
  path     = "ROOT/checkpoints/fabric.snap"
}

reporting {
  directory = "ROOT/reports"
  label     = "collect"
}

shard "earth" {
  latency_budget_ms = 120
}

shard "mars" {
  latency_budget_ms = 400
}

node "earth.n1" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 4
  price {
    base = 0.5
  }
}
`

// liveFabric starts a single-node server (in-memory raft, event log on
// disk) behind the HTTP API, applies collectMission and submits jobs jobs:
// the event log then holds jobs+8 or so events.
func liveFabric(tb testing.TB, jobs int) *api.Client {
	tb.Helper()
	return liveFabricWith(tb, collectMission, jobs)
}

// liveFabricWith is liveFabric with its own mission source (ROOT is
// replaced by a temp dir).
func liveFabricWith(tb testing.TB, mission string, jobs int) *api.Client {
	tb.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: tb.Name(), Level: hclog.Error})
	cfg := server.DefaultConfig()
	root := tb.TempDir()
	cfg.NodeID, cfg.DataDir, cfg.InMemory, cfg.Bootstrap, cfg.Logger = "s1", tb.TempDir(), true, true, logger
	cfg.AllowedRoots = []string{root}
	srv, err := server.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.WaitLeader(ctx); err != nil {
		tb.Fatal(err)
	}
	acfg := httpapi.DefaultConfig()
	acfg.Backend, acfg.Logger, acfg.DisableACL = srv, logger, true
	h, err := httpapi.New(acfg)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(h)
	tb.Cleanup(hs.Close)
	c, err := api.NewClient(api.ClientConfig{Address: hs.URL})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.ApplyMission(ctx, "collect.hcl", []byte(strings.ReplaceAll(mission, "ROOT", root)), "test"); err != nil {
		tb.Fatal(err)
	}
	for lo := 0; lo < jobs; lo += 1000 {
		batch := make([]api.JobSubmit, 0, 1000)
		for i := lo; i < min(lo+1000, jobs); i++ {
			batch = append(batch, api.JobSubmit{ID: fmt.Sprintf("job-%06d", i), Shard: []string{"earth", "mars"}[i%2], Value: 4})
		}
		if _, err := c.SubmitJobs(ctx, batch); err != nil {
			tb.Fatal(err)
		}
	}
	// No node ever comes up: the scheduler parks every job, over several
	// rounds. Wait until it is done, so the event log stops growing.
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := c.Ledger(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if Active(l.Global) == 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("jobs still queued after 30s: %+v", l.Global)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

func TestCollectAndWriteBundle(t *testing.T) {
	c := liveFabric(t, 2500)
	ctx := context.Background()
	in, err := Collect(ctx, c, CollectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Events) < 2500 || in.Events[len(in.Events)-1].Seq != in.Ledger.Head.Seq {
		t.Fatalf("collected %d events up to %d, ledger head %d", len(in.Events), in.Events[len(in.Events)-1].Seq, in.Ledger.Head.Seq)
	}
	for i, e := range in.Events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
	// Reads in other pages and from other points agree with the full read.
	head := in.Ledger.Head.Seq
	for _, rc := range []struct{ after, head, size uint64 }{
		{1000, head, eventPage}, {0, head, 700}, {3, head - 5, 1}, {999, 1000, 7}, {17, 17, 700},
	} {
		got, err := readEvents(ctx, c, rc.after, rc.head, time.Second, rc.size)
		if err != nil || !reflect.DeepEqual(got, in.Events[rc.after:rc.head]) {
			t.Fatalf("readEvents %+v: %d events, %v", rc, len(got), err)
		}
	}
	// A head the log does not reach is an error once the wait ends.
	if _, err := readEvents(ctx, c, 0, head+3, 200*time.Millisecond, 1000); !errors.Is(err, ErrEventsBehind) {
		t.Fatalf("head past the log: %v", err)
	}
	var res Result
	if err := WriteBundle(&res, in, filepath.Join(t.TempDir(), "bundle")); err != nil {
		t.Fatal(err)
	}
	if res.VerifyErr != "" || !res.Verify.OK() || res.Verify.Events != len(in.Events) {
		t.Fatalf("bundle does not verify: %s %+v", res.VerifyErr, res.Verify)
	}
}

// BenchmarkCollectWriteBundle is the report phase of a 10,000-job trial
// over a live fabric whose event log holds about 40,000 events: Collect
// pages through GET /v1/events, WriteBundle writes and verifies the bundle.
// The server runs in the benchmark's process, so its CPU is counted too.
func BenchmarkCollectWriteBundle(b *testing.B) {
	c := liveFabric(b, 40_000)
	ctx := context.Background()
	dir := b.TempDir()
	b.Run("collect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Collect(ctx, c, CollectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	in, err := Collect(ctx, c, CollectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var res Result
			if err := WriteBundle(&res, in, dir); err != nil || res.VerifyErr != "" {
				b.Fatal(err, res.VerifyErr)
			}
		}
	})
}
