package exec

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
)

// cpuTime is the CPU time used by this process and its reaped children.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var self, kids syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids); err != nil {
		tb.Fatal(err)
	}
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// BenchmarkExecuteTrue runs /bin/true through Execute the way a node does:
// `inflight` tasks handed to the agent at once, each in its own goroutine.
// It reports jobs/s and the CPU per job of the agent plus its children
// (fork, exec, wait, output capture and the command itself).
func BenchmarkExecuteTrue(b *testing.B) {
	for _, inflight := range []int{1, 64, 1500} {
		b.Run("inflight="+strconv.Itoa(inflight), func(b *testing.B) {
			a := New().(*Agent)
			err := a.Configure(context.Background(), sdk.Config{Node: sdk.NodeInfo{DataDir: b.TempDir()},
				Values: map[string]any{"enabled": true, "allow": []string{"/bin/true"}}})
			if err != nil {
				b.Fatal(err)
			}
			body := payload(b, Payload{Command: "/bin/true"})
			var (
				wg   sync.WaitGroup
				next = make(chan int)
				fail = make(chan string, 1)
				nbad atomic.Int64
			)
			for w := 0; w < inflight; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						res, err := a.Execute(context.Background(), sdk.Task{JobID: "b-" + strconv.Itoa(i), Attempt: 1, Payload: body})
						if err != nil || !res.OK {
							nbad.Add(1)
							select {
							case fail <- res.Error + errString(err):
							default:
							}
						}
					}
				}()
			}
			b.ResetTimer()
			cpu0, start := cpuTime(b), time.Now()
			for i := 0; i < b.N; i++ {
				next <- i
			}
			close(next)
			wg.Wait()
			elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
			b.StopTimer()
			select {
			case msg := <-fail:
				b.Errorf("%d of %d tasks failed, one with: %s", nbad.Load(), b.N, msg)
			default:
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/job")
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
