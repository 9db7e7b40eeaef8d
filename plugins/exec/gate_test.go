package exec

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/planetary/planetary/sdk"
)

func TestStartGate(t *testing.T) {
	g := newStartGate(2)
	a, err := g.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Full: a third waits until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := g.enter(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("enter on a full gate: %v", err)
	}
	// Releasing twice frees one slot, not two.
	a.release()
	a.release()
	c, err := g.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(g.slots) != 2 {
		t.Fatalf("%d slots held, want 2", len(g.slots))
	}
	b.release()
	c.release()
	if len(g.slots) != 0 {
		t.Fatalf("%d slots held after every release", len(g.slots))
	}
}

// A task queued behind the gate ends with its context, and a task's
// timeout starts once it leaves the queue.
func TestQueuedTask(t *testing.T) {
	a := configured(t, "true")
	hold, err := a.gate.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range cap(a.gate.slots) - 1 {
		if _, err := a.gate.enter(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.Execute(ctx, sdk.Task{JobID: "queued", Attempt: 1, Payload: payload(t, Payload{Command: "true"})})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	go func() {
		res, err := a.Execute(context.Background(), sdk.Task{JobID: "late", Attempt: 1, Payload: payload(t, Payload{Command: "true", TimeoutMS: 1500})})
		if err == nil && !res.OK {
			err = errors.New(res.Error)
		}
		done <- err
	}()
	// Longer than the task's timeout, spent queued; the timeout itself leaves
	// a loaded machine ample time to run `true` once started.
	time.Sleep(2 * time.Second)
	hold.release()
	if err := <-done; err != nil {
		t.Fatalf("task run after queueing past its timeout: %v", err)
	}
}
