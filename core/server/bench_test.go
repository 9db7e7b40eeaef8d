package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// BenchmarkSubmit measures raft-committed submissions per second on one
// node with raft-boltdb fsync on: batches of 1 and 1,000 jobs from one
// caller, and 1-job calls from 64 concurrent callers through the coalescer.
// Dispatch is paused, so no scheduler entries share the log.
//
//	go test -run '^$' -bench BenchmarkSubmit -benchtime 3s ./core/server/
func BenchmarkSubmit(b *testing.B) {
	cases := []struct {
		name    string
		batch   int
		callers int
	}{
		{"batch=1", 1, 1},
		{"batch=1000", 1000, 1},
		{"callers=64", 1, 64},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.NodeID, cfg.DataDir, cfg.BindAddr, cfg.Bootstrap = "b1", b.TempDir(), "127.0.0.1:0", true
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Error})
			cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
			s, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown()
			ctx := context.Background()
			deadline := time.Now().Add(10 * time.Second)
			for !(s.IsLeader() && s.leading.Load()) {
				if time.Now().After(deadline) {
					b.Fatal("no leader")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if _, err := s.Apply(ctx, command.ShardRegisterType, &command.ShardRegister{Shard: state.Shard{Name: "eu"}}); err != nil {
				b.Fatal(err)
			}
			// Pause dispatch so the scheduler loop does not compete for the
			// log: this measures the submit path alone.
			if _, err := s.Apply(ctx, command.PauseType, &command.Pause{Paused: true}); err != nil {
				b.Fatal(err)
			}
			payload := []byte(`{"ms":10}`)
			mk := func(prefix string, n int) []command.JobSubmit {
				jobs := make([]command.JobSubmit, n)
				for i := range jobs {
					jobs[i] = command.JobSubmit{ID: fmt.Sprintf("%s-%d", prefix, i), Shard: "eu", Kind: "sim", Payload: payload, ValueMu: 1000}
				}
				return jobs
			}
			before := s.Stats()
			b.ResetTimer()
			start := time.Now()
			if tc.callers == 1 {
				for i := 0; i < b.N; i++ {
					if _, err := s.Submit(ctx, mk(fmt.Sprintf("%s-%d", tc.name, i), tc.batch), "bench"); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				var wg sync.WaitGroup
				for c := 0; c < tc.callers; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := c; i < b.N; i += tc.callers {
							if _, err := s.Submit(ctx, mk(fmt.Sprintf("c%d-%d", c, i), 1), "bench"); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
			}
			el := time.Since(start)
			b.StopTimer()
			after := s.Stats()
			jobs := float64(b.N * tc.batch)
			b.ReportMetric(jobs/el.Seconds(), "jobs/s")
			b.ReportMetric(float64(after.SubmitEntries-before.SubmitEntries)/el.Seconds(), "entries/s")
		})
	}
}
