package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/report"
)

// openPTY opens a pseudo-terminal of cols x rows: the side a program
// writes to (a terminal to it) and the side that reads what it wrote.
func openPTY(t *testing.T, cols, rows uint16) (tty, master *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatalf("pty size: %v", err)
	}
	return s, m
}

// vt is the little of a terminal that the bars use: printable text, CR,
// LF, cursor up (ESC [ n A) and erase to the end of the screen (ESC [ J).
// Any other control sequence is an error.
type vt struct {
	lines    []string
	row, col int
}

func (v *vt) feed(b []byte) error {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\r':
			v.col = 0
		case '\n':
			v.row++
			v.col = 0
		case 0x1b:
			m := regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`).FindSubmatch(b[i:])
			if m == nil {
				return fmt.Errorf("unexpected escape %q", b[i:min(i+8, len(b))])
			}
			n, _ := strconv.Atoi(string(m[1]))
			switch m[2][0] {
			case 'A':
				v.row = max(v.row-max(n, 1), 0)
			case 'J':
				v.grow()
				v.lines[v.row] = v.lines[v.row][:min(v.col, len(v.lines[v.row]))]
				v.lines = v.lines[:v.row+1]
			default:
				return fmt.Errorf("unexpected escape %q", m[0])
			}
			i += len(m[0]) - 1
		default:
			if c < 0x20 {
				return fmt.Errorf("unexpected control byte %#x", c)
			}
			v.grow()
			l := []rune(v.lines[v.row])
			for len(l) < v.col {
				l = append(l, ' ')
			}
			r, size := []rune(string(b[i:min(i+4, len(b))]))[0], 1
			if c >= 0x80 {
				size = len(string(r))
			}
			if v.col < len(l) {
				l[v.col] = r
			} else {
				l = append(l, r)
			}
			v.lines[v.row] = string(l)
			v.col++
			i += size - 1
		}
	}
	return nil
}

func (v *vt) grow() {
	for len(v.lines) <= v.row {
		v.lines = append(v.lines, "")
	}
}

func shardsAt(completed, failed, parked map[string]int64, queued int64) []api.Shard {
	var out []api.Shard
	for _, name := range []string{"earth", "mars"} {
		out = append(out, api.Shard{Name: name, QueueDepth: queued, Counts: api.Counts{
			"completed": {Jobs: completed[name]}, "failed": {Jobs: failed[name]}, "parked": {Jobs: parked[name]},
			"queued": {Jobs: queued},
		}})
	}
	return out
}

// progressScript drives a progress of 100 jobs over two shards through
// samples that a real run can produce (a lagging read with fewer jobs
// finished, parked jobs queued again by a topology change), with log
// lines between them, one of them written in two parts. refresh, when not
// nil, draws a frame after each step.
func progressScript(t *testing.T, pr *progress, scr *Screen, refresh chan any) []string {
	t.Helper()
	var logs []string
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		logs = append(logs, line)
		if _, err := io.WriteString(scr, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	draw := func() {
		if refresh != nil {
			refresh <- struct{}{}
		}
	}
	steps := []struct {
		ms                   int64
		completed, f, parked map[string]int64
		queued               int64
	}{
		{100, map[string]int64{"earth": 5}, nil, nil, 90},
		{200, map[string]int64{"earth": 20, "mars": 5}, nil, map[string]int64{"mars": 10}, 60},
		{300, map[string]int64{"earth": 15, "mars": 5}, nil, map[string]int64{"mars": 10}, 60}, // a lagging read
		{400, map[string]int64{"earth": 30, "mars": 20}, map[string]int64{"earth": 1}, nil, 40},
		{500, map[string]int64{"earth": 48, "mars": 50}, map[string]int64{"earth": 1}, map[string]int64{"earth": 1}, 0},
	}
	for i, st := range steps {
		pr.update(report.Sample{TimeMs: st.ms}, shardsAt(st.completed, st.f, st.parked, st.queued))
		draw()
		logf("2026-12-07T10:00:0%d.000Z [WARN]  planetary.client: log line %d between samples", i, i)
		if i == 2 {
			if _, err := io.WriteString(scr, "2026-12-07T10:00:09.000Z [INFO]  planetary: a line in "); err != nil {
				t.Fatal(err)
			}
			draw()
			if _, err := io.WriteString(scr, "two writes\n"); err != nil {
				t.Fatal(err)
			}
			logs = append(logs, "2026-12-07T10:00:09.000Z [INFO]  planetary: a line in two writes")
		}
		draw()
	}
	return logs
}

// TestProgressTerminal drives the live bars through a pseudo-terminal with
// log lines between the samples, replays the bytes on a small terminal
// and checks what a user sees: every log line whole on its own line above
// the bars, counts that never go back, no ETA that is not one, one last
// frame (no stale bars) that fits the width, and nothing of the bars after
// it.
func TestProgressTerminal(t *testing.T) {
	const cols = 100
	tty, master := openPTY(t, cols, 40)
	var raw bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&raw, master) // ends with EIO once the tty side is closed
	}()

	scr := NewScreen(tty)
	refresh := make(chan any)
	pr := newProgressRefresh(scr, true, false, 100, refresh)
	logs := progressScript(t, pr, scr, refresh)
	// close draws the last frame; frames are drawn on refresh only, so
	// keep asking until it returns.
	closed := make(chan struct{})
	var pump sync.WaitGroup
	pump.Add(1)
	go func() {
		defer pump.Done()
		for {
			select {
			case refresh <- struct{}{}:
			case <-closed:
				return
			}
		}
	}()
	pr.close()
	close(closed)
	pump.Wait()
	after := "Run summary: 98 completed, 1 failed, 1 parked"
	if _, err := io.WriteString(scr, after+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := tty.Close(); err != nil {
		t.Fatal(err)
	}
	<-read
	_ = master.Close()

	out := raw.Bytes()
	// Which samples a frame shows depends on when it is drawn; whichever
	// they are, no ETA is 0s and none stands beside parked jobs
	// (TestProgressETA checks each case).
	if bytes.Contains(out, []byte("ETA 0s")) {
		t.Errorf("ETAs shown: %q", regexp.MustCompile(`ETA \S+`).FindAll(out, -1))
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "parked") && strings.Contains(l, "ETA") {
			t.Errorf("an ETA beside parked jobs: %q", l)
		}
	}
	// Every frame's counts, in the order drawn, never go back.
	for _, bar := range []string{"all", "earth", "mars"} {
		re := regexp.MustCompile(`(?m)^` + bar + `\s+(\d+) / (\d+)`)
		prev := int64(-1)
		frames := 0
		for _, m := range re.FindAllSubmatch(bytes.ReplaceAll(out, []byte("\x1b[J"), []byte("\n")), -1) {
			n, _ := strconv.ParseInt(string(m[1]), 10, 64)
			if n < prev {
				t.Errorf("bar %s went back from %d to %d", bar, prev, n)
			}
			prev = n
			frames++
		}
		if frames < 2 {
			t.Errorf("bar %s was drawn %d times", bar, frames)
		}
	}

	var v vt
	if err := v.feed(out); err != nil {
		t.Fatal(err)
	}
	screen := v.lines
	for len(screen) > 0 && screen[len(screen)-1] == "" {
		screen = screen[:len(screen)-1]
	}
	t.Logf("screen:\n%s", strings.Join(screen, "\n"))
	count := func(pred func(string) bool) (n, last int) {
		last = -1
		for i, l := range screen {
			if pred(l) {
				n++
				last = i
			}
		}
		return n, last
	}
	logAt := -1
	for _, l := range logs {
		n, at := count(func(s string) bool { return s == l })
		if n != 1 {
			t.Errorf("log line %q is on the screen %d times, want once, whole, on its own line", l, n)
		}
		logAt = max(logAt, at)
	}
	barAt := -1
	for _, bar := range []string{"all", "earth", "mars"} {
		n, at := count(func(s string) bool { return strings.HasPrefix(s, bar+" ") })
		if n != 1 {
			t.Errorf("bar %s is on the screen %d times, want one last frame", bar, n)
		}
		barAt = max(barAt, at)
		if at >= 0 && at < logAt {
			t.Errorf("bar %s (line %d) is above a log line (line %d)", bar, at, logAt)
		}
	}
	// The last frame keeps the totals: one job is parked, not done.
	for _, want := range []string{`^all\s+99 / 100 .*parked 1`, `^earth\s+49 / 50 `, `^mars\s+50 / 50 `} {
		if n, _ := count(regexp.MustCompile(want).MatchString); n != 1 {
			t.Errorf("the last frame has no line matching %s", want)
		}
	}
	if len(screen) == 0 || screen[len(screen)-1] != after || barAt != len(screen)-2 {
		t.Errorf("what follows the bars is not the next line alone (bars end at line %d of %d)", barAt, len(screen))
	}
	for i, l := range screen {
		if len([]rune(l)) > cols {
			t.Errorf("line %d is wider than the terminal (%d > %d): it wraps and leaves a stale frame", i, len([]rune(l)), cols)
		}
	}
}

// TestProgressETA: the total bar shows an ETA only when one can be told.
func TestProgressETA(t *testing.T) {
	cases := []struct {
		line ProgressLine
		want string
	}{
		{ProgressLine{TimeMs: 0, Total: 100}, ""},
		{ProgressLine{TimeMs: 500, Total: 100}, "0 jobs/s"},                                                 // nothing finished yet
		{ProgressLine{TimeMs: 1000, Total: 100, Done: 20, Completed: 20}, "20 jobs/s  ETA 4s"},              // 80 left at 20/s
		{ProgressLine{TimeMs: 1000, Total: 100, Done: 95, Completed: 95}, "95 jobs/s  ETA <1s"},             // 5 left at 95/s
		{ProgressLine{TimeMs: 1000, Total: 100, Done: 50, Completed: 50, Parked: 3}, "50 jobs/s  parked 3"}, // parked: none
		{ProgressLine{TimeMs: 2000, Total: 100, Done: 100, Completed: 90, Failed: 10}, "45 jobs/s"},         // all done
	}
	for _, tc := range cases {
		pr := &progress{}
		l := tc.line
		pr.latest.Store(&l)
		if got := pr.rateETA(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestProgressPlain: when the output is not a terminal the progress is
// plain lines between the log lines, no control bytes, counts that never
// go back, and a last line with the final counts.
func TestProgressPlain(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			var buf bytes.Buffer
			scr := NewScreen(&buf)
			pr := newProgress(scr, false, asJSON, 100)
			logs := progressScript(t, pr, scr, nil)
			pr.close()
			out := buf.String()
			for _, c := range out {
				if c < 0x20 && c != '\n' {
					t.Fatalf("control byte %#x in plain output:\n%q", c, out)
				}
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			isLog := map[string]bool{}
			for _, l := range logs {
				isLog[l] = true
			}
			var done []int64
			seen := 0
			for _, l := range lines {
				if isLog[l] {
					seen++
					continue
				}
				var d int64
				if asJSON {
					var pl ProgressLine
					if err := json.Unmarshal([]byte(l), &pl); err != nil {
						t.Fatalf("line %q: %v", l, err)
					}
					d = pl.Done
				} else if _, err := fmt.Sscanf(l[strings.Index(l, "done "):], "done %d/", &d); err != nil {
					t.Fatalf("line %q is neither a log line nor a progress line", l)
				}
				done = append(done, d)
			}
			if seen != len(logs) {
				t.Errorf("%d of %d log lines are whole lines of the output:\n%s", seen, len(logs), out)
			}
			for i := 1; i < len(done); i++ {
				if done[i] < done[i-1] {
					t.Errorf("done went back from %d to %d", done[i-1], done[i])
				}
			}
			if len(done) < 2 || done[len(done)-1] != 99 {
				t.Errorf("progress lines %v: want a first one and a last one of 99 done", done)
			}
		})
	}
}
