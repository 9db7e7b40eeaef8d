//go:build unix

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

// cpuTime is the CPU time used by this process and by its reaped children.
func cpuTime(tb testing.TB) (self, children time.Duration) {
	tb.Helper()
	var s, c syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &s); err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c); err != nil {
		tb.Fatal(err)
	}
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(s.Utime) + tv(s.Stime), tv(c.Utime) + tv(c.Stime)
}

// BenchmarkExecuteTrue runs /bin/true through Execute the way a node does:
// `inflight` tasks handed to the agent at once, each in its own goroutine.
// It reports jobs/s and the CPU per job of the agent (payload, working dir,
// fork, wait, output capture: what the agent can make cheaper) and of the
// command itself (exec, dynamic loading, exit: fixed by /bin/true).
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
			self0, kids0 := cpuTime(b)
			start := time.Now()
			for i := 0; i < b.N; i++ {
				next <- i
			}
			close(next)
			wg.Wait()
			elapsed := time.Since(start)
			self1, kids1 := cpuTime(b)
			b.StopTimer()
			select {
			case msg := <-fail:
				b.Errorf("%d of %d tasks failed, one with: %s", nbad.Load(), b.N, msg)
			default:
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
			b.ReportMetric(float64((self1-self0).Microseconds())/float64(b.N), "agent-µs/job")
			b.ReportMetric(float64((kids1-kids0).Microseconds())/float64(b.N), "command-µs/job")
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
