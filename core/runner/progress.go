package runner

import (
	"bytes"
	"encoding/json"
	"errors"
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

// ProgressLine is one line of plain or JSON progress output. Done counts
// the finished jobs (completed, failed, cancelled); parked jobs are
// counted apart, since a topology change can queue them again. The
// counts of a run's lines never go down.
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

// Screen is one output shared by a run's progress and its log lines.
// Give it as Options.Progress and use it as the log output: while live
// bars are drawn on a terminal, each log line is printed above them
// (never over them, and never cut by a frame); otherwise lines pass
// through whole, between the progress lines. A partial line is held
// until its newline.
type Screen struct {
	mu      sync.Mutex
	w       io.Writer
	partial []byte
	bars    *mpb.Progress
	// drawn is closed once the bars' last frame is on the screen.
	drawn chan struct{}
}

// NewScreen returns a Screen writing to w.
func NewScreen(w io.Writer) *Screen { return &Screen{w: w} }

// Write writes the whole lines of b (and keeps a trailing partial line).
func (s *Screen) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	i := bytes.LastIndexByte(s.partial, '\n')
	if i < 0 {
		return len(b), nil
	}
	lines := append([]byte(nil), s.partial[:i+1]...)
	s.partial = append(s.partial[:0], s.partial[i+1:]...)
	if err := s.writeLines(lines); err != nil {
		return 0, err
	}
	return len(b), nil
}

// writeLines writes whole lines, above the bars while they are drawn.
// The caller holds mu.
func (s *Screen) writeLines(lines []byte) error {
	if s.bars != nil {
		_, err := s.bars.Write(lines)
		var done mpb.ErrDone[*mpb.Progress]
		if !errors.As(err, &done) {
			return err
		}
		s.bars = nil // the bars stopped (a render error): write plainly
	}
	_, err := s.w.Write(lines)
	return err
}

// Flush writes a held partial line as a line of its own.
func (s *Screen) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) == 0 {
		return nil
	}
	line := append(append([]byte(nil), s.partial...), '\n')
	s.partial = s.partial[:0]
	return s.writeLines(line)
}

// attach makes p the live bars that log lines go above.
func (s *Screen) attach(p *mpb.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bars = p
}

// finish runs last, which draws the bars' last frame, while log lines
// wait: a line given to the bars after their last render would never be
// printed, and one printed plainly during it would be drawn over. Lines
// written after finish follow the last frame.
func (s *Screen) finish(last func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last()
	s.bars = nil
}

// progress renders samples: a bar per shard plus a total on a terminal,
// otherwise a plain or JSON line at most every second and a last one at
// the end.
type progress struct {
	w        io.Writer
	screen   *Screen
	terminal bool
	json     bool
	total    int64

	mu      sync.Mutex
	p       *mpb.Progress
	all     *mpb.Bar
	bars    map[string]*mpb.Bar
	done    map[string]int64 // per shard, the most finished jobs shown
	line    ProgressLine     // the counts shown so far (never lower)
	last    time.Time
	closed  bool
	printed bool
	// latest is read by the bar decorators on the renderer's goroutine.
	latest atomic.Pointer[ProgressLine]
	// shown is what the shard bars' counters print, read the same way.
	shown atomic.Pointer[map[string][2]int64] // shard -> {done, jobs}
}

func newProgress(w io.Writer, terminal, asJSON bool, total int) *progress {
	return newProgressRefresh(w, terminal, asJSON, total, nil)
}

// newProgressRefresh is newProgress whose bars are drawn when refresh
// receives (tests), not on a timer; nil refresh is the timer.
func newProgressRefresh(w io.Writer, terminal, asJSON bool, total int, refresh <-chan any) *progress {
	pr := &progress{w: w, terminal: terminal && !asJSON, json: asJSON, total: int64(total),
		bars: map[string]*mpb.Bar{}, done: map[string]int64{}}
	pr.screen, _ = w.(*Screen)
	if w != nil && pr.terminal {
		out := w
		if pr.screen != nil {
			out = pr.screen.w
		}
		rate := mpb.WithRefreshRate(150 * time.Millisecond)
		if refresh != nil {
			rate = mpb.WithManualRefresh(refresh)
		}
		pr.p = mpb.New(mpb.WithOutput(out), mpb.WithWidth(30), rate)
		// The counters are the run's own, not the bar's: the last frame
		// completes every bar, and a total shown there must stay the
		// number of jobs, parked ones included.
		pr.all = pr.p.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name("all", decor.WCSyncSpaceR), decor.Any(func(decor.Statistics) string {
				var done int64
				if l := pr.latest.Load(); l != nil {
					done = l.Done
				}
				return fmt.Sprintf("%d / %d", done, pr.total)
			}, decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return pr.rateETA() })),
			mpb.BarPriority(1<<30))
		if pr.screen != nil {
			pr.screen.attach(pr.p)
		}
	}
	return pr
}

func finished(c api.Counts) int64 {
	return c[state.JobCompleted.String()].Jobs + c[state.JobFailed.String()].Jobs + c[state.JobCancelled.String()].Jobs
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
	// Finished jobs stay finished: a sample that reads fewer (a lagging
	// server) does not take the counts back.
	prev := pr.line
	line.TimeMs = max(line.TimeMs, prev.TimeMs)
	line.Completed = max(line.Completed, prev.Completed)
	line.Failed = max(line.Failed, prev.Failed)
	line.Cancelled = max(line.Cancelled, prev.Cancelled)
	line.Done = line.Completed + line.Failed + line.Cancelled
	if line.TimeMs > 0 {
		line.Rate = float64(line.Completed) / (float64(line.TimeMs) / 1000)
	}
	pr.line = line
	pr.latest.Store(&line)
	if pr.terminal {
		shown := map[string][2]int64{}
		for _, sh := range shards {
			var all int64
			for _, c := range sh.Counts {
				all += c.Jobs
			}
			d := max(finished(sh.Counts), pr.done[sh.Name])
			pr.done[sh.Name] = d
			shown[sh.Name] = [2]int64{d, all}
			b := pr.bars[sh.Name]
			if b == nil {
				// Created without a total, so that it completes only
				// at close: a shard's total grows as work spills in.
				b = pr.p.AddBar(0,
					mpb.PrependDecorators(decor.Name(sh.Name, decor.WCSyncSpaceR), decor.Any(func(decor.Statistics) string {
						var c [2]int64
						if m := pr.shown.Load(); m != nil {
							c = (*m)[sh.Name]
						}
						return fmt.Sprintf("%d / %d", c[0], c[1])
					}, decor.WCSyncSpace)),
					mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
						return fmt.Sprintf("queue %d", pr.depth(sh.Name))
					}, decor.WCSyncSpace)))
				pr.bars[sh.Name] = b
			}
			b.SetTotal(max(all, d, 1), false)
			b.SetCurrent(d)
		}
		pr.shown.Store(&shown)
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

// rateETA is the total bar's rate and, when one can be told, its ETA:
// only once jobs finish, while some are left, and while none is parked
// (a parked job waits for a topology change, which no rate predicts).
func (pr *progress) rateETA() string {
	l := pr.latest.Load()
	if l == nil || l.TimeMs <= 0 {
		return ""
	}
	rate := float64(l.Done) / (float64(l.TimeMs) / 1000)
	s := fmt.Sprintf("%.0f jobs/s", float64(l.Completed)/(float64(l.TimeMs)/1000))
	if l.Parked > 0 {
		s += fmt.Sprintf("  parked %d", l.Parked)
	}
	left := l.Total - l.Done
	if l.Done == 0 || left <= 0 || l.Parked > 0 || rate <= 0 {
		return s
	}
	eta := time.Duration(float64(left) / rate * float64(time.Second))
	if eta < time.Second {
		return s + "  ETA <1s"
	}
	return s + "  ETA " + eta.Round(time.Second).String()
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

// close draws the last frame (or prints the last line) and returns once it
// is out; log lines written after it follow it.
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
	p, bars, all := pr.p, pr.bars, pr.all
	pr.mu.Unlock()
	if p == nil {
		return
	}
	last := func() {
		for _, b := range bars {
			b.SetTotal(-1, true)
		}
		all.SetTotal(-1, true)
		p.Wait()
	}
	if pr.screen != nil {
		pr.screen.finish(last)
	} else {
		last()
	}
}
