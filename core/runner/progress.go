package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/state"
)

// ProgressLine is one line of plain or JSON progress output.
type ProgressLine struct {
	TimeMs    int64            `json:"time_ms"`
	Done      int64            `json:"done"`
	Total     int64            `json:"total"`
	Completed int64            `json:"completed"`
	Failed    int64            `json:"failed"`
	Cancelled int64            `json:"cancelled"`
	Parked    int64            `json:"parked"`
	Queued    int64            `json:"queued"`
	Rate      float64          `json:"jobs_per_sec"`
	PerShard  map[string]int64 `json:"queue_depth"`
}

// progress renders samples: a bar per shard plus a total on a terminal,
// otherwise a plain or JSON line at most every second.
type progress struct {
	w        io.Writer
	terminal bool
	json     bool
	total    int64

	mu      sync.Mutex
	p       *mpb.Progress
	all     *mpb.Bar
	bars    map[string]*mpb.Bar
	last    time.Time
	closed  bool
	printed bool
	// latest is read by the bar decorators on the renderer's goroutine.
	latest atomic.Pointer[ProgressLine]
}

func newProgress(w io.Writer, terminal, asJSON bool, total int) *progress {
	pr := &progress{w: w, terminal: terminal && !asJSON, json: asJSON, total: int64(total), bars: map[string]*mpb.Bar{}}
	if w != nil && pr.terminal {
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(36), mpb.WithRefreshRate(150*time.Millisecond))
		pr.all = pr.p.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name("all", decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f jobs/s", decor.WCSyncSpace),
				decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
			mpb.BarPriority(1<<30))
	}
	return pr
}

func terminal(c api.StateCount) int64 { return c.Jobs }

func doneOf(c api.Counts) int64 {
	return terminal(c[state.JobCompleted.String()]) + terminal(c[state.JobFailed.String()]) +
		terminal(c[state.JobCancelled.String()]) + terminal(c[state.JobParked.String()])
}

func (pr *progress) update(s report.Sample, shards []api.Shard) {
	if pr.w == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed {
		return
	}
	var line ProgressLine
	line.TimeMs, line.Total, line.PerShard = s.TimeMs, pr.total, map[string]int64{}
	for _, sh := range shards {
		line.Completed += sh.Counts[state.JobCompleted.String()].Jobs
		line.Failed += sh.Counts[state.JobFailed.String()].Jobs
		line.Cancelled += sh.Counts[state.JobCancelled.String()].Jobs
		line.Parked += sh.Counts[state.JobParked.String()].Jobs
		line.Queued += sh.QueueDepth
		line.PerShard[sh.Name] = sh.QueueDepth
	}
	line.Done = line.Completed + line.Failed + line.Cancelled + line.Parked
	if s.TimeMs > 0 {
		line.Rate = float64(line.Completed) / (float64(s.TimeMs) / 1000)
	}
	pr.latest.Store(&line)
	if pr.terminal {
		for _, sh := range shards {
			var all int64
			for _, c := range sh.Counts {
				all += c.Jobs
			}
			b := pr.bars[sh.Name]
			if b == nil {
				b = pr.p.AddBar(all,
					mpb.PrependDecorators(decor.Name(sh.Name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)),
					mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f jobs/s", decor.WCSyncSpace), decor.Name(" queue "),
						decor.Any(func(decor.Statistics) string { return fmt.Sprint(pr.depth(sh.Name)) })))
				pr.bars[sh.Name] = b
			}
			b.SetTotal(max(all, 1), false)
			b.SetCurrent(doneOf(sh.Counts))
		}
		pr.all.SetCurrent(min(line.Done, pr.total))
		return
	}
	pr.printed = false
	if time.Since(pr.last) < time.Second {
		return
	}
	pr.last, pr.printed = time.Now(), true
	pr.write(line)
}

func (pr *progress) depth(shard string) int64 {
	if l := pr.latest.Load(); l != nil {
		return l.PerShard[shard]
	}
	return 0
}

func (pr *progress) write(line ProgressLine) {
	if pr.json {
		b, _ := json.Marshal(line)
		fmt.Fprintf(pr.w, "%s\n", b)
		return
	}
	fmt.Fprintf(pr.w, "%6.1fs  done %d/%d  completed %d  failed %d  cancelled %d  parked %d  queued %d  %.0f jobs/s\n",
		float64(line.TimeMs)/1000, line.Done, line.Total, line.Completed, line.Failed, line.Cancelled, line.Parked,
		line.Queued, line.Rate)
}

func (pr *progress) close() {
	pr.mu.Lock()
	if pr.closed || pr.w == nil {
		pr.closed = true
		pr.mu.Unlock()
		return
	}
	pr.closed = true
	if l := pr.latest.Load(); l != nil && !pr.terminal && !pr.printed {
		pr.write(*l)
	}
	p := pr.p
	if p != nil {
		for _, b := range pr.bars {
			b.SetTotal(-1, true)
		}
		pr.all.SetTotal(-1, true)
	}
	pr.mu.Unlock()
	if p != nil {
		p.Wait()
	}
}
