package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/planetary/planetary/core/api/client"
)

// replayMsg is the 503 answer while the raft log replays.
var replayMsg = regexp.MustCompile(`^starting, replaying raft log \(index (\d+) of (\d+)\)$`)

// openingMsg is the 503 answer before the server has opened its data dir.
const openingMsg = "starting, opening the raft log and restoring the latest snapshot"

// submitMany submits n queued jobs to shard earth in 1,000-job batches from
// 4 goroutines.
func submitMany(t *testing.T, c *api.Client, n int) {
	t.Helper()
	const batch = 1000
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := 0; i < n; i += batch {
			next <- i
		}
	}()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range next {
				jobs := make([]api.JobSubmit, 0, batch)
				for i := start; i < min(start+batch, n); i++ {
					jobs = append(jobs, api.JobSubmit{ID: "bulk-" + strconv.Itoa(i), Shard: "earth", Value: 1,
						Capabilities: []string{"sim"}})
				}
				res, err := c.SubmitJobs(context.Background(), jobs)
				if err == nil {
					for _, r := range res {
						if r.Status != api.StatusAccepted {
							err = fmt.Errorf("submit %s: %s %s", r.ID, r.Status, r.Reason)
							break
						}
					}
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// probe is one answer seen while an agent starts.
type probe struct {
	path   string
	status int
	body   string
}

// probeUntilReady asks GET path (with the token) of addr until it answers
// 200, recording every answer; connection errors before the listener is up
// are skipped.
func probeUntilReady(t *testing.T, addr, token, path string, d time.Duration) []probe {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	var seen []probe
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		req, _ := http.NewRequest(http.MethodGet, addr+path, nil)
		req.Header.Set(api.TokenHeader, token)
		resp, err := hc.Do(req)
		if err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen = append(seen, probe{path, resp.StatusCode, string(b)})
		if resp.StatusCode == http.StatusOK {
			return seen
		}
	}
	t.Fatalf("%s did not answer 200 within %s; last answers %v", path, d, seen[max(0, len(seen)-3):])
	return nil
}

// TestRestartReplay restarts an agent on a data dir holding 500,000 queued
// jobs (50,000 with -short). Until its FSM has replayed the raft log, every
// route answers 503 "starting, ..." with the replay's progress, /v1/health
// says starting, /v1/metrics is a 503 too, and a valid token never gets a
// 401; the first 200 already holds every job.
func TestRestartReplay(t *testing.T) {
	n := 500_000
	if testing.Short() {
		n = 50_000
	}
	dir := t.TempDir()
	httpAddr, bind := freePort(t), freePort(t)
	p := startAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
	c := p.client()
	if _, err := c.Pause(context.Background(), "", "keep the bulk queued"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	submitMany(t, c, n)
	t.Logf("submitted %d jobs in %s", n, time.Since(start).Round(time.Millisecond))
	before, err := c.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := before.Global["queued"].Jobs; got != int64(n) {
		t.Fatalf("queued %d before the restart, want %d", got, n)
	}
	p.crash()
	p.kill()

	token := p.token
	q := launchAgent(t, dir, httpAddr, bind, "-dev", "-config", "testdata/two-sim.hcl")
	start = time.Now()
	// Three probes at once: a token-checked read, health and metrics.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seen  = map[string][]probe{}
		paths = []string{"/v1/ledger", "/v1/health", "/v1/metrics"}
	)
	for _, path := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := probeUntilReady(t, q.addr, token, path, 5*time.Minute)
			mu.Lock()
			seen[path] = got
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("ready after %s", time.Since(start).Round(time.Millisecond))

	starting := 0
	for _, path := range paths {
		var lastN uint64
		for i, pr := range seen[path] {
			if i == len(seen[path])-1 {
				break // the 200
			}
			if pr.status != http.StatusServiceUnavailable {
				t.Fatalf("%s answered %d during start-up: %s", path, pr.status, pr.body)
			}
			msg := ""
			if path == "/v1/health" {
				var h api.Health
				if err := json.Unmarshal([]byte(pr.body), &h); err != nil || h.Status != "starting" {
					t.Fatalf("health during start-up: %s", pr.body)
				}
				msg = h.Message
			} else {
				var eb api.ErrorBody
				if err := json.Unmarshal([]byte(pr.body), &eb); err != nil {
					t.Fatalf("%s during start-up: %s", path, pr.body)
				}
				msg = eb.Error
			}
			if msg == openingMsg {
				continue
			}
			m := replayMsg.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("%s during start-up says %q", path, msg)
			}
			idx, _ := strconv.ParseUint(m[1], 10, 64)
			of, _ := strconv.ParseUint(m[2], 10, 64)
			if idx > of || idx < lastN {
				t.Fatalf("%s progress %q after index %d", path, msg, lastN)
			}
			lastN = idx
			starting++
		}
	}
	if starting == 0 {
		t.Fatalf("no probe saw the replay in progress: %v", seen)
	}
	var after api.Ledger
	if err := json.Unmarshal([]byte(seen["/v1/ledger"][len(seen["/v1/ledger"])-1].body), &after); err != nil {
		t.Fatal(err)
	}
	if got := after.Global["queued"].Jobs; got != int64(n) {
		t.Fatalf("the first ledger after the replay holds %d queued jobs, want %d", got, n)
	}
	if !strings.Contains(q.output(), "raft log replayed") {
		t.Errorf("the agent did not log the end of its replay:\n%s", q.output())
	}
	t.Logf("%d answers were 503 with replay progress", starting)
}

// launchAgent starts `planetary agent` like startAgent but returns at once,
// without waiting for it to come up.
func launchAgent(t *testing.T, dataDir, httpAddr, bind string, args ...string) *agentProc {
	t.Helper()
	all := append([]string{"agent"}, absConfig(t, args)...)
	all = append(all, "-data-dir", dataDir, "-http-addr", httpAddr, "-bind", bind, "-log-level", "info")
	cmd := newAgentCmd(t, dataDir, all)
	p := &agentProc{t: t, cmd: cmd, out: cmd.Stdout.(*syncWriter).w, addr: "http://" + httpAddr, dataDir: dataDir}
	if b, err := os.ReadFile(filepath.Join(dataDir, "management.token")); err == nil {
		p.token = strings.TrimSpace(string(b))
	}
	t.Cleanup(p.kill)
	return p
}
