package raftfsm_test

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/snapshot"
	"github.com/planetary/planetary/raftfsm/state"
)

// benchFabric returns an FSM with three shards and nodes, no jobs.
func benchFabric(b *testing.B) *fsmtest.Applier {
	a := &fsmtest.Applier{FSM: raftfsm.New(raftfsm.DefaultConfig())}
	m := &command.MissionApply{Meta: command.Meta{Time: 1}, Name: "bench", Digest: "b"}
	for _, s := range []string{"ap", "eu", "us"} {
		m.Shards = append(m.Shards, state.Shard{Name: s})
		m.Nodes = append(m.Nodes, state.Node{ID: s + "-n0", Shard: s, Capacity: 8})
	}
	enc, err := command.Encode(command.MissionApplyType, m)
	if err != nil {
		b.Fatal(err)
	}
	a.Apply(enc)
	return a
}

// submitEntry encodes a batch of n jobs numbered from first.
func submitEntry(b *testing.B, first, n int) []byte {
	shards := []string{"ap", "eu", "us"}
	sb := &command.SubmitBatch{Time: int64(first), Jobs: make([]command.JobSubmit, n)}
	for i := range sb.Jobs {
		k := first + i
		sb.Jobs[i] = command.JobSubmit{ID: fmt.Sprintf("job-%08d", k), Key: fmt.Sprintf("key-%08d", k),
			Shard: shards[k%3], Capabilities: []string{"gpu"}, Priority: int64(k % 3), ValueMu: 1000,
			Kind: "sim", Submitter: "tok-1"}
	}
	enc, err := command.Encode(command.SubmitBatchType, sb)
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

func BenchmarkApplySubmitBatch1000(b *testing.B) {
	a := benchFabric(b)
	b.ReportAllocs()
	var cpu time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		e := submitEntry(b, i*1000, 1000)
		b.StartTimer()
		start := cpuTime()
		if r := a.Apply(e); r.Outcomes[999].Status != raftfsm.Applied {
			b.Fatal(r.Outcomes[999])
		}
		cpu += cpuTime() - start
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/job")
}

const millionJobs = 1_000_000

var million struct {
	once  sync.Once
	fsm   *raftfsm.FSM
	bytes []byte
}

// buildMillion applies 1,000 SubmitBatch entries of 1,000 jobs.
func buildMillion(b *testing.B) *raftfsm.FSM {
	million.once.Do(func() {
		a := benchFabric(b)
		for i := 0; i < millionJobs; i += 1000 {
			a.Apply(submitEntry(b, i, 1000))
		}
		million.fsm = a.FSM
		million.bytes = persist(b, a.FSM)
	})
	return million.fsm
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func BenchmarkHeapPerJob1M(b *testing.B) {
	for b.Loop() {
		before := heap()
		a := benchFabric(b)
		for i := 0; i < millionJobs; i += 1000 {
			a.Apply(submitEntry(b, i, 1000))
		}
		after := heap()
		runtime.KeepAlive(a)
		b.ReportMetric(float64(after-before)/millionJobs, "B/job")
	}
}

func BenchmarkPersist1M(b *testing.B) {
	f := buildMillion(b)
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		snap, err := f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		if err := snap.Persist(&discardSink{}); err != nil {
			b.Fatal(err)
		}
		snap.Release()
	}
	b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(len(million.bytes))/millionJobs, "stream-B/job")
}

func BenchmarkRestore1M(b *testing.B) {
	buildMillion(b)
	data := million.bytes
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		f := raftfsm.New(raftfsm.DefaultConfig())
		if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
}

func BenchmarkInspect1M(b *testing.B) {
	buildMillion(b)
	data := million.bytes
	b.ResetTimer()
	for b.Loop() {
		if _, err := snapshot.Inspect(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the process's user+system CPU time; benchmarks report it per
// op because wall time is unreliable on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type discardSink struct{}

func (discardSink) Write(p []byte) (int, error) { return len(p), nil }
func (discardSink) ID() string                  { return "discard" }
func (discardSink) Cancel() error               { return nil }
func (discardSink) Close() error                { return nil }

// BenchmarkRegionCheckpoint builds the local region's checkpoint and the
// global ledger over four regions from a store of 1,500 generated entries
// (the call a region host makes after each change batch, and the one the
// ledger route makes per read).
func BenchmarkRegionCheckpoint(b *testing.B) {
	_, f := fsmtest.Log(42, 1500, nil)
	others := []state.RegionCheckpoint{{Region: "luna", RaftIndex: 1}, {Region: "mars", RaftIndex: 1}, {Region: "helios", RaftIndex: 1}}
	b.ReportAllocs()
	for b.Loop() {
		f.Read(func(s *state.Store) {
			if _, err := state.GlobalLedger(s.Checkpoint("earth"), others); err != nil {
				b.Fatal(err)
			}
		})
	}
}
