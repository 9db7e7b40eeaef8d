package server

import (
	"errors"
	"testing"
	"time"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

var owner = Actor{Name: "owner", Caps: CapAll}

// A schedule entry's command goes through the checks of the endpoint a
// call of it takes: the refusal the call gets is the reason the entry is
// skipped with, and neither reaches the FSM.
func TestScheduledEntryRunsEndpointChecks(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.InMemory = true
	cfg.ClockTick = 20 * time.Millisecond
	s := startServer(t, cfg)
	ctx := ctxT(t)
	again := command.ShardRegister{Shard: state.Shard{Name: "eu"}}
	pauseNowhere := command.Pause{Shard: "nowhere", Paused: true}
	if _, err := s.RegisterShard(ctx, owner, again); err != nil {
		t.Fatalf("RegisterShard: %v", err)
	}
	_, callErr := s.RegisterShard(ctx, owner, again)
	var re *RequestError
	if !errors.As(callErr, &re) || re.Kind != Conflict || re.Field != "name" {
		t.Fatalf("second RegisterShard: %v, want a conflict on name", callErr)
	}
	_, pauseErr := s.Pause(ctx, owner, pauseNowhere)
	if !errors.As(pauseErr, &re) || re.Kind != NotFound || re.Field != "shard" {
		t.Fatalf("Pause of an unknown shard: %v, want not found on shard", pauseErr)
	}
	before := s.epStats["shard.register"].refused.Load()
	regArgs, _ := again.MarshalMsg(nil)
	pauseArgs, _ := pauseNowhere.MarshalMsg(nil)
	if _, err := s.ApplyMission(ctx, owner, command.MissionApply{Name: "m", Digest: "d1",
		Schedule: []state.ScheduleEntry{
			{ID: "again", AtMs: 0, Action: "shard.register", Args: regArgs},
			{ID: "pause", AtMs: 0, Action: "shard.pause", Args: pauseArgs},
		}}, nil); err != nil {
		t.Fatalf("ApplyMission: %v", err)
	}
	var pol state.Policy
	waitFor(t, 10*time.Second, "entries skipped", func() bool {
		s.Read(func(st *state.Store) { pol = st.Policy() })
		return len(pol.Skipped) == 2
	})
	if len(pol.Fired) != 0 {
		t.Fatalf("fired %v, want none", pol.Fired)
	}
	head, _ := s.Events().Head()
	evs, err := s.Events().Read(0, int(head)+1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"again": "refused: " + callErr.Error(), "pause": "refused: " + pauseErr.Error()}
	got := map[string]string{}
	for _, e := range evs {
		switch e.Type {
		case state.EvScheduleSkipped:
			got[e.Detail] = e.Reason
		case state.EvShardRegistered, state.EvShardPaused:
			if e.Seq > 0 && e.Actor != "owner" {
				t.Fatalf("the schedule reached the FSM: %+v", e)
			}
		}
	}
	for id, reason := range want {
		if got[id] != reason {
			t.Errorf("entry %s skipped with %q, want %q", id, got[id], reason)
		}
	}
	// Checked on the schedule path without counting as calls.
	if n := s.epStats["shard.register"].refused.Load(); n != before {
		t.Errorf("refused calls of shard.register %d, want %d", n, before)
	}
}

// Every endpoint checks the caller's capability before anything else and
// counts the refusal.
func TestEndpointCapability(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.InMemory = true
	s := startServer(t, cfg)
	ctx := ctxT(t)
	reader := Actor{Name: "reader", Caps: CapRead}
	last := s.LastIndex()
	_, err := s.RegisterShard(ctx, reader, command.ShardRegister{Shard: state.Shard{Name: "eu"}})
	var re *RequestError
	if !errors.As(err, &re) || re.Kind != Forbidden {
		t.Fatalf("RegisterShard as a reader: %v, want forbidden", err)
	}
	if _, err := s.SubmitJobs(ctx, reader, []command.JobSubmit{{Shard: "eu"}}); !errors.As(err, &re) || re.Kind != Forbidden {
		t.Fatalf("SubmitJobs as a reader: %v, want forbidden", err)
	}
	if s.LastIndex() != last {
		t.Fatal("a refused call proposed")
	}
	if n := s.epStats["shard.register"].refused.Load(); n != 1 {
		t.Fatalf("refused shard.register calls %d, want 1", n)
	}
	res, err := s.RegisterShard(ctx, owner, command.ShardRegister{Meta: command.Meta{Reason: "why"}, Shard: state.Shard{Name: "eu"}})
	if err != nil || res.Index == 0 {
		t.Fatalf("RegisterShard: %+v %v", res, err)
	}
	if n := s.epStats["shard.register"].ok.Load(); n != 1 {
		t.Fatalf("ok shard.register calls %d, want 1", n)
	}
	// The stamp is the endpoint's: the caller's reason, its name.
	head, _ := s.Events().Head()
	evs, _ := s.Events().Read(0, int(head)+1)
	found := false
	for _, e := range evs {
		if e.Type == state.EvShardRegistered && e.Shard == "eu" {
			found = e.Actor == "owner" && e.Reason == "why"
		}
	}
	if !found {
		t.Fatal("no shard.registered event stamped with the caller and its reason")
	}
}

// Every owner command of the registry has its endpoint, so a schedule
// entry of it is checked as a call is.
func TestEveryOwnerCommandHasAnEndpoint(t *testing.T) {
	for _, sp := range command.Specs() {
		if !sp.Owner || sp.Type == command.CheckpointSavedType {
			continue
		}
		if _, ok := endpointByType(sp.Type); !ok {
			t.Errorf("owner command %s has no endpoint", sp.Name)
		}
	}
	seen := map[string]bool{}
	for _, ep := range endpoints() {
		if seen[ep.name] {
			t.Errorf("two endpoints named %s", ep.name)
		}
		seen[ep.name] = true
	}
}
