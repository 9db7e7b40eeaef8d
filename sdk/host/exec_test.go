package host

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/internal/agentpb"
)

// collect reads n results (or fails at ctx's end) and returns them by job.
func collect(t *testing.T, ctx context.Context, s *ExecStream, n int) map[string]TaskResult {
	t.Helper()
	got := make(map[string]TaskResult, n)
	for len(got) < n {
		select {
		case r, ok := <-s.Results():
			if !ok {
				t.Fatalf("results closed after %d of %d", len(got), n)
			}
			if _, dup := got[r.JobID]; dup {
				t.Fatalf("second result for %s", r.JobID)
			}
			got[r.JobID] = r
		case <-ctx.Done():
			t.Fatalf("%d of %d results before the deadline", len(got), n)
		}
	}
	return got
}

// Both wire forms carry tasks, cancels and results: the batched one the
// host uses with an agent that sets execute_batch, and the single-item one
// it uses otherwise, which the agent then mirrors (one result per message).
func TestExecStreamWireForms(t *testing.T) {
	tests := []struct {
		name  string
		batch bool
	}{
		{"batched", true},
		{"single", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := launch(t, Config{})
			if !p.batch {
				t.Fatal("the sdk's agent does not advertise execute_batch")
			}
			p.batch = tt.batch
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := p.Exec(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// x is cancelled before it is sent: the cancel is a no-op
			// and x runs, whatever messages the two share.
			if err := s.Cancel("x", 1); err != nil {
				t.Fatal(err)
			}
			tasks := []struct {
				job, payload string
				cancel       bool
				wantErr      error
			}{
				{"x", "10", false, nil},
				{"a", "", false, nil},
				{"b", "20", false, nil},
				{"c", "60000", true, ErrTaskCancelled},
			}
			for _, task := range tasks {
				if err := s.Send(sdk.Task{JobID: task.job, Attempt: 1, Payload: []byte(task.payload)}); err != nil {
					t.Fatal(err)
				}
				if task.cancel {
					if err := s.Cancel(task.job, 1); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := collect(t, ctx, s, len(tasks))
			for _, task := range tasks {
				r := got[task.job]
				if !errors.Is(r.Err, task.wantErr) || (task.wantErr == nil && !r.Result.OK) || r.Attempt != 1 {
					t.Errorf("%s: %+v", task.job, r)
				}
			}
			if err := s.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := s.Send(sdk.Task{JobID: "late", Attempt: 1}); !errors.Is(err, ErrStreamEnded) {
				t.Fatalf("send after CloseSend: %v", err)
			}
			if err := s.Cancel("a", 1); !errors.Is(err, ErrStreamEnded) {
				t.Fatalf("cancel after CloseSend: %v", err)
			}
			if _, open := <-s.Results(); open {
				t.Fatal("results still open after close send")
			}
			if sent, recv := s.msgsSent.Load(), s.msgsRecv.Load(); !tt.batch && (sent != 6 || recv != 4) {
				t.Fatalf("single form: %d messages sent, %d received; want 6 and 4", sent, recv)
			}
		})
	}
}

// A burst of tasks shares messages both ways, and every task gets exactly
// one result.
func TestExecStreamBurst(t *testing.T) {
	p := launch(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	done := make(chan map[string]TaskResult, 1)
	go func() {
		got := map[string]TaskResult{}
		for len(got) < n {
			select {
			case r := <-s.Results():
				got[r.JobID] = r
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
		done <- got
	}()
	for i := range n {
		if err := s.Send(sdk.Task{JobID: "j" + strconv.Itoa(i), Attempt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	got := <-done
	if len(got) != n {
		t.Fatalf("%d of %d results", len(got), n)
	}
	for job, r := range got {
		if r.Err != nil || !r.Result.OK {
			t.Fatalf("%s: %+v", job, r)
		}
	}
	if s.Pending() != 0 {
		t.Fatalf("%d pending after every result", s.Pending())
	}
	sent, recv := s.msgsSent.Load(), s.msgsRecv.Load()
	t.Logf("%d tasks in %d messages, results in %d", n, sent, recv)
	if sent >= n || recv >= n {
		t.Fatalf("no batching: %d tasks in %d messages, results in %d", n, sent, recv)
	}
}

// Tasks and results near the message size limit are split across messages
// instead of making one message larger than gRPC accepts (4 MiB).
func TestExecStreamLargeMessages(t *testing.T) {
	p := launch(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n, size = 24, 600_000
	// Built first, so that they are sent faster than one is written.
	tasks := make([]sdk.Task, n)
	big, out := []byte(strings.Repeat("x", size)), []byte("output:"+strconv.Itoa(size))
	for i := range tasks {
		tasks[i] = sdk.Task{JobID: "big" + strconv.Itoa(i), Attempt: 1, Payload: big} // a large task
		if i%2 == 1 {
			tasks[i].Payload = out // a large result
		}
	}
	for _, task := range tasks {
		if err := s.Send(task); err != nil {
			t.Fatal(err)
		}
	}
	got := collect(t, ctx, s, n)
	for job, r := range got {
		if r.Err != nil || !r.Result.OK {
			t.Fatalf("%s: %+v", job, r)
		}
		if i, _ := strconv.Atoi(strings.TrimPrefix(job, "big")); i%2 == 1 && len(r.Result.Output) != size {
			t.Fatalf("%s: output of %d bytes", job, len(r.Result.Output))
		}
	}
}

// A lone task's result arrives without waiting for more tasks: neither
// side holds a message back to fill a batch, so a lone task's round trip
// stays in line with a unary call's, measured alongside it. (A lone task
// takes about 0.7 of a Health call; holding messages back for even a
// millisecond on one side fails this.)
func TestExecStreamLoneTask(t *testing.T) {
	p := launch(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	var lone, unary []time.Duration
	for i := range rounds {
		start := time.Now()
		if err := s.Send(sdk.Task{JobID: "lone" + strconv.Itoa(i), Attempt: 1}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-s.Results():
			if r.Err != nil || !r.Result.OK {
				t.Fatalf("%+v", r)
			}
		case <-ctx.Done():
			t.Fatalf("round %d: no result for a lone task", i)
		}
		lone = append(lone, time.Since(start))
		start = time.Now()
		if err := p.Health(ctx); err != nil {
			t.Fatal(err)
		}
		unary = append(unary, time.Since(start))
	}
	slices.Sort(lone)
	slices.Sort(unary)
	ml, mu := lone[rounds/2], unary[rounds/2]
	t.Logf("median round trip: lone task %v, Health %v", ml, mu)
	if ml > 2*mu+250*time.Microsecond {
		t.Fatalf("a lone task takes %v (median), a Health call %v", ml, mu)
	}
}

func TestNextRequest(t *testing.T) {
	task := func(job string, payload int) outItem {
		return outItem{task: &agentpb.Task{JobId: job, Attempt: 1, Payload: make([]byte, payload)}}
	}
	cancel := func(job string) outItem { return outItem{cancel: &agentpb.Cancel{JobId: job, Attempt: 1}} }
	many := make([]outItem, maxBatchItems+1)
	for i := range many {
		many[i] = task("m"+strconv.Itoa(i), 0)
	}
	tests := []struct {
		name  string
		items []outItem
		// want is each message as job ids: tasks, then "-" and cancels.
		want []string
	}{
		{"lone task", []outItem{task("a", 0)}, []string{"a"}},
		{"tasks then cancels", []outItem{task("a", 0), task("b", 0), cancel("a"), cancel("c")}, []string{"a b - a c"}},
		{"a task after a cancel starts a message", []outItem{task("a", 0), cancel("a"), task("a", 0)}, []string{"a - a", "a"}},
		{"cancel first", []outItem{cancel("x"), task("x", 0), task("y", 0)}, []string{"- x", "x y"}},
		{"size limit", []outItem{task("a", 600_000), task("b", 600_000), task("c", 10)}, []string{"a", "b c"}},
		{"oversized task alone", []outItem{task("a", maxBatchBytes+1), task("b", 0)}, []string{"a", "b"}},
		{"count limit", many, []string{strings.Join(jobs(many[:maxBatchItems]), " "), "m" + strconv.Itoa(maxBatchItems)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for items := tt.items; len(items) > 0; {
				req, n := nextRequest(items)
				if n == 0 {
					t.Fatal("no progress")
				}
				var ids []string
				for _, tk := range req.GetTasks() {
					ids = append(ids, tk.GetJobId())
				}
				if len(req.GetCancels()) > 0 {
					ids = append(ids, "-")
				}
				for _, c := range req.GetCancels() {
					ids = append(ids, c.GetJobId())
				}
				if len(ids)-min(len(req.GetCancels()), 1) != n {
					t.Fatalf("message %v carries %d items, consumed %d", ids, len(ids), n)
				}
				got = append(got, strings.Join(ids, " "))
				items = items[n:]
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("messages %q, want %q", got, tt.want)
			}
		})
	}
}

func jobs(items []outItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.task.GetJobId()
	}
	return out
}

// A task the transport cannot carry, or a result too large or not UTF-8,
// costs that task alone: the stream stays open and the next task on it
// runs, in both wire forms.
func TestExecStreamIsolatesBadMessages(t *testing.T) {
	big := strings.Repeat("p", sdk.MaxMessageBytes+1)
	tests := []struct {
		name    string
		task    sdk.Task
		sendErr error  // Send refuses the task
		resErr  error  // or its result carries this error
		output  string // or it succeeds with this output
	}{
		{"payload over the limit", sdk.Task{JobID: "p", Payload: []byte(big)}, ErrUndeliverable, nil, ""},
		{"job id over the limit", sdk.Task{JobID: big}, ErrUndeliverable, nil, ""},
		{"kind not UTF-8", sdk.Task{JobID: "k", Kind: "\xff"}, ErrUndeliverable, nil, ""},
		{"payload just under the limit", sdk.Task{JobID: "u", Payload: []byte(big[:sdk.MaxMessageBytes-1024])}, nil, nil, ""},
		{"result over the limit", sdk.Task{JobID: "r", Payload: []byte("output:" + strconv.Itoa(sdk.MaxMessageBytes+1))}, nil, ErrTaskFailed, ""},
		{"output not UTF-8", sdk.Task{JobID: "b", Payload: []byte("binary")}, nil, nil, "\uFFFDok"},
	}
	for _, batch := range []bool{true, false} {
		p := launch(t, Config{})
		p.batch = batch
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, err := p.Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name+"/batch="+strconv.FormatBool(batch), func(t *testing.T) {
				tt.task.Attempt = 1
				err := s.Send(tt.task)
				if !errors.Is(err, tt.sendErr) {
					t.Fatalf("Send: got %v, want %v", err, tt.sendErr)
				}
				if err != nil && len(err.Error()) > 1024 {
					t.Errorf("Send error is %d bytes; it must quote the id bounded", len(err.Error()))
				}
				if err == nil {
					r := collect(t, ctx, s, 1)[tt.task.JobID]
					if !errors.Is(r.Err, tt.resErr) {
						t.Fatalf("result: got %v, want %v", r.Err, tt.resErr)
					}
					if r.Err == nil && r.Result.Output != tt.output {
						t.Fatalf("output %q, want %q", r.Result.Output, tt.output)
					}
				}
				// The stream still carries the node's other work.
				if err := s.Send(sdk.Task{JobID: "next", Attempt: 1}); err != nil {
					t.Fatalf("next task refused: %v", err)
				}
				if r := collect(t, ctx, s, 1)["next"]; r.Err != nil || !r.Result.OK {
					t.Fatalf("next task: %+v", r)
				}
			})
		}
		cancel()
	}
}
