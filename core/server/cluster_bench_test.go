package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/testport"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// benchCluster starts n servers over loopback TCP with raft-boltdb on disk
// and waits until one leads with its loops running.
func benchCluster(b testing.TB, n int, hb, election time.Duration) []*Server {
	var (
		servers []*Server
		peers   []PeerAddr
	)
	for i := range n {
		addr := testport.Addr(b)
		cfg := DefaultConfig()
		cfg.NodeID, cfg.DataDir, cfg.BindAddr = fmt.Sprintf("b%d", i), b.TempDir(), addr
		// Quiet: a failover logs refused connections to the killed leader,
		// and go test would print them inside the benchmark result line.
		cfg.Logger = hclog.NewNullLogger()
		cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout = hb, election
		s, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Shutdown() })
		servers = append(servers, s)
		peers = append(peers, PeerAddr{ID: cfg.NodeID, Address: s.LocalAddr()})
	}
	for _, s := range servers {
		if err := s.BootstrapCluster(peers); err != nil {
			b.Fatal(err)
		}
	}
	if benchLeader(b, servers, 30*time.Second) == nil {
		b.Fatal("no leader")
	}
	return servers
}

// benchLeader polls for a server that leads with its loops running.
func benchLeader(b testing.TB, servers []*Server, d time.Duration) *Server {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, s := range servers {
			if s.IsLeader() && s.leading.Load() {
				return s
			}
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// BenchmarkClusterSubmit measures raft-committed submissions per second on
// one server and on three (loopback TCP, raft-boltdb with fsync), as
// 1,000-job batches from one caller and 1-job calls from 64 callers through
// the coalescer. Dispatch is paused so only submissions use the log.
//
//	go test -run '^$' -bench BenchmarkClusterSubmit -benchtime 2s ./core/server/
func BenchmarkClusterSubmit(b *testing.B) {
	for _, n := range []int{1, 3} {
		for _, tc := range []struct {
			name           string
			batch, callers int
		}{{"batch=1000", 1000, 1}, {"callers=64", 1, 64}} {
			b.Run(fmt.Sprintf("servers=%d/%s", n, tc.name), func(b *testing.B) {
				servers := benchCluster(b, n, 500*time.Millisecond, 500*time.Millisecond)
				s := benchLeader(b, servers, 10*time.Second)
				ctx := context.Background()
				if _, err := s.Apply(ctx, command.ShardRegisterType, &command.ShardRegister{Shard: state.Shard{Name: "eu"}}); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Apply(ctx, command.PauseType, &command.Pause{Paused: true}); err != nil {
					b.Fatal(err)
				}
				mk := func(prefix string, k int) []command.JobSubmit {
					jobs := make([]command.JobSubmit, k)
					for i := range jobs {
						jobs[i] = command.JobSubmit{ID: fmt.Sprintf("%s-%d", prefix, i), Shard: "eu", Kind: "sim", Payload: []byte(`{"ms":10}`), ValueMu: 1000}
					}
					return jobs
				}
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for c := range tc.callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := c; i < b.N; i += tc.callers {
							if _, err := s.Submit(ctx, mk(fmt.Sprintf("c%d-%d", c, i), tc.batch), "bench"); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N*tc.batch)/el.Seconds(), "jobs/s")
			})
		}
	}
}

// BenchmarkFailover measures, on three servers over loopback TCP, the time
// from shutting the leader down (no leave, as a crash) to the first
// assignment committed by the new leader: a job submitted, with retries, to
// whichever server leads from the moment of the kill. Default raft timeouts
// (1s heartbeat, 1s election) and tuned ones (150ms each).
//
//	go test -run '^$' -bench BenchmarkFailover -benchtime 5x ./core/server/
func BenchmarkFailover(b *testing.B) {
	for _, tc := range []struct {
		name         string
		hb, election time.Duration
	}{{"raft-default-1s", 0, 0}, {"raft-tuned-150ms", 150 * time.Millisecond, 150 * time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			var total, elect time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				servers := benchCluster(b, 3, tc.hb, tc.election)
				l := benchLeader(b, servers, 10*time.Second)
				ctx := context.Background()
				if _, err := l.Apply(ctx, command.ShardRegisterType, &command.ShardRegister{Shard: state.Shard{Name: "eu"}}); err != nil {
					b.Fatal(err)
				}
				if _, err := l.RegisterClient(ctx, "c1", []state.Node{{ID: "n1", Shard: "eu", PluginKind: "sim", Capacity: 100, Client: "c1"}}, []string{"sim"}); err != nil {
					b.Fatal(err)
				}
				var rest []*Server
				for _, s := range servers {
					if s != l {
						rest = append(rest, s)
					}
				}
				for _, s := range rest { // followers hold the node before the kill
					for s.AppliedIndex() < l.AppliedIndex() {
						time.Sleep(time.Millisecond)
					}
				}
				b.StartTimer()
				killed := time.Now()
				_ = l.Shutdown()
				var nl *Server
				id := fmt.Sprintf("after-kill-%d", i)
			submit:
				for {
					for _, s := range rest {
						if _, err := s.Submit(ctx, []command.JobSubmit{{ID: id, Shard: "eu", Kind: "sim"}}, "bench"); err == nil {
							nl = s
							break submit
						} else if !errors.Is(err, ErrNotLeader) {
							b.Fatal(err)
						}
					}
					time.Sleep(time.Millisecond)
				}
				elect += time.Since(killed)
				for {
					var st state.JobState
					nl.Read(func(x *state.Store) { st = x.Job(id).State })
					if st == state.JobAssigned {
						break
					}
					time.Sleep(time.Millisecond)
				}
				total += time.Since(killed)
				b.StopTimer()
				for _, s := range rest {
					_ = s.Shutdown()
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-first-assign")
			b.ReportMetric(float64(elect.Milliseconds())/float64(b.N), "ms-to-accepted-submit")
		})
	}
}
