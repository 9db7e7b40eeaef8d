package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// TestShutdownWithProposalsQueued shuts a leader down while many callers
// keep proposing. raft leaves an entry still in its batched apply queue at
// shutdown unanswered; Shutdown and every caller must still return.
func TestShutdownWithProposalsQueued(t *testing.T) {
	for round := range 5 {
		cfg := testConfig(t, t.TempDir())
		s := startServer(t, cfg)
		ctx := context.Background()
		if _, err := s.Apply(ctx, command.ShardRegisterType, &command.ShardRegister{Shard: state.Shard{Name: "eu"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ctx, command.PauseType, &command.Pause{Paused: true}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for c := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					job := command.JobSubmit{ID: fmt.Sprintf("r%d-c%d-%d", round, c, i), Shard: "eu", Kind: "sim", ValueMu: 1}
					if _, err := s.Submit(ctx, []command.JobSubmit{job}, "test"); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(150 * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- s.Shutdown() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Shutdown did not return with proposals queued", round)
		}
		close(stop)
		callers := make(chan struct{})
		go func() { wg.Wait(); close(callers) }()
		select {
		case <-callers:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: proposers still blocked after Shutdown", round)
		}
	}
}

// strandedFuture is a raft future that is never answered, as raft leaves
// one that was still in its apply queue when it shut down.
type strandedFuture struct{ block chan struct{} }

func (f strandedFuture) Error() error  { <-f.block; return nil }
func (f strandedFuture) Index() uint64 { return 0 }

// TestWaitFutureEndsWhenRaftIsDown: a wait on an unanswered future returns
// raft's shutdown error once raft is down, and a future answered before
// still gives its own answer.
func TestWaitFutureEndsWhenRaftIsDown(t *testing.T) {
	s := &Server{raftDown: make(chan struct{})}
	f := strandedFuture{block: make(chan struct{})}
	defer close(f.block)
	got := make(chan error, 1)
	go func() { got <- s.waitFuture(context.Background(), f) }()
	select {
	case err := <-got:
		t.Fatalf("returned %v before raft was down", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(s.raftDown)
	select {
	case err := <-got:
		if !errors.Is(err, raft.ErrRaftShutdown) {
			t.Fatalf("err = %v, want raft.ErrRaftShutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait still blocked after raft shut down")
	}
	answered := strandedFuture{block: make(chan struct{})}
	close(answered.block)
	if err := s.waitFuture(context.Background(), answered); err != nil {
		t.Fatalf("answered future: %v", err)
	}
}
