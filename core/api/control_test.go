package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
)

// controlStream is an open control stream whose frames a test reads in
// order.
type controlStream struct {
	frames chan client.ControlFrame
	done   chan error
	stop   context.CancelFunc
	// seen are the frames read so far.
	seen []client.ControlFrame
}

func openControl(t *testing.T, c *client.Client, req client.ClientControl) *controlStream {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	cs := &controlStream{frames: make(chan client.ControlFrame, 1024), done: make(chan error, 1), stop: stop}
	go func() {
		cs.done <- c.ClientControl(ctx, req, func(f *client.ControlFrame) error {
			cs.frames <- *f
			return nil
		})
	}()
	t.Cleanup(cs.close)
	return cs
}

func (cs *controlStream) close() {
	cs.stop()
	<-cs.done
	cs.done <- context.Canceled // close is idempotent
}

// until reads frames until cond holds for the frame just read.
func (cs *controlStream) until(t *testing.T, what string, cond func(client.ControlFrame) bool) client.ControlFrame {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case f := <-cs.frames:
			cs.seen = append(cs.seen, f)
			if cond(f) {
				return f
			}
		case err := <-cs.done:
			cs.done <- err
			select {
			case f := <-cs.frames: // a last frame came before the end
				cs.seen = append(cs.seen, f)
				if cond(f) {
					return f
				}
			default:
			}
			if len(cs.frames) == 0 {
				t.Fatalf("control stream ended waiting for %s: %v", what, err)
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s; frames %+v", what, cs.seen)
		}
	}
}

// cancels counts the cancellations of job's attempt in the frames read.
func (cs *controlStream) cancels(job string, attempt uint32) int {
	n := 0
	for _, f := range cs.seen {
		for _, c := range f.Cancels {
			if c.JobID == job && c.Attempt == attempt {
				n++
			}
		}
	}
	return n
}

func assigned(job string) func(client.ControlFrame) bool {
	return func(f client.ControlFrame) bool {
		return slices.ContainsFunc(f.Assignments, func(a client.Assignment) bool { return a.JobID == job })
	}
}

func cancelled(job string) func(client.ControlFrame) bool {
	return func(f client.ControlFrame) bool {
		return slices.ContainsFunc(f.Cancels, func(c client.Cancel) bool { return c.JobID == job })
	}
}

// TestControlStreamOnFollowers runs the control stream of one client on
// the followers of a three-server cluster over TCP raft and BoltDB while
// every change is made on the leader: a cancellation reaches the stream of
// a follower exactly once; a cancellation made while the client has no
// stream is delivered by the other follower when the client resumes there
// with the index it saw and the attempts it holds, and what it holds is
// not assigned again; a retirement reaches it as a node change; a server
// behind the index the client saw answers 503.
func TestControlStreamOnFollowers(t *testing.T) {
	c := newAPIClusterWith(t, func(i int, cfg *server.Config) { cfg.HeartbeatTTL = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := c.leader()
	leader, _ := client.NewClient(client.ClientConfig{Address: c.urls[l]})
	f1, _ := client.NewClient(client.ClientConfig{Address: c.urls[(l+1)%3]})
	f2, _ := client.NewClient(client.ClientConfig{Address: c.urls[(l+2)%3]})
	if _, err := leader.RegisterShard(ctx, api.Shard{Name: "earth", LatencyBudgetMs: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.RegisterNode(ctx, api.Node{ID: "earth.n1", Shard: "earth", Plugin: "sim", Capacity: 8,
		Capabilities: []string{"sim"}}); err != nil {
		t.Fatal(err)
	}
	if reg, err := leader.ClientRegister(ctx, api.ClientRegister{Client: "c1", Kinds: []string{"sim"}}); err != nil ||
		!slices.Equal(reg.Claimed, []string{"earth.n1"}) {
		t.Fatalf("register: %+v %v", reg, err)
	}
	if err := leader.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: "c1",
		Nodes: []api.NodeBeat{{ID: "earth.n1", Healthy: true}}}); err != nil {
		t.Fatal(err)
	}

	cs := openControl(t, f1, client.ClientControl{Client: "c1"})
	first := cs.until(t, "the first frame", func(client.ControlFrame) bool { return true })
	if !first.Full {
		t.Fatalf("first frame %+v", first)
	}
	// The follower may answer before it applied the node, its claim and
	// its beat; the node's changes follow as it does.
	cs.until(t, "earth.n1 hosted by c1 and up", func(f client.ControlFrame) bool {
		return slices.ContainsFunc(f.Nodes, func(n api.Node) bool {
			return n.ID == "earth.n1" && n.Client == "c1" && n.Status == "up"
		})
	})
	submitJob := func(id string) {
		t.Helper()
		res, err := leader.SubmitJobs(ctx, []api.JobSubmit{{ID: id, Shard: "earth", Capabilities: []string{"sim"},
			Value: 1, Kind: "sim", Payload: []byte(`{"duration_ms":0}`)}})
		if err != nil || res[0].Status != api.StatusAccepted {
			t.Fatalf("submit %s: %+v %v", id, res, err)
		}
	}
	for _, id := range []string{"j1", "j2", "j3"} {
		submitJob(id)
		cs.until(t, id+" assigned", assigned(id))
	}

	// A cancellation on the leader reaches the follower's stream once.
	w, err := leader.CancelJob(ctx, "j1", "test")
	if err != nil {
		t.Fatal(err)
	}
	got := cs.until(t, "j1 cancelled", cancelled("j1"))
	if got.Index < w.Index || got.Cancels[0].State != "cancelled" {
		t.Fatalf("cancel frame %+v, cancel applied at %d", got, w.Index)
	}
	submitJob("j4")
	cs.until(t, "j4 assigned", assigned("j4"))
	if n := cs.cancels("j1", 1); n != 1 {
		t.Fatalf("j1 cancelled %d times", n)
	}
	var index uint64
	for _, f := range cs.seen {
		index = max(index, f.Index)
	}
	cs.close()

	// While the client has no stream, j2 is cancelled; the other follower
	// delivers it once the client resumes there, and assigns nothing the
	// client holds.
	w, err = leader.CancelJob(ctx, "j2", "test")
	if err != nil {
		t.Fatal(err)
	}
	// The follower the client resumes on has applied it: only the
	// attempts the client names can tell it what to cancel.
	if err := c.servers[(l+2)%3].WaitIndex(ctx, w.Index); err != nil {
		t.Fatal(err)
	}
	held := []api.JobAttempt{{JobID: "j2", Attempt: 1}, {JobID: "j3", Attempt: 1}, {JobID: "j4", Attempt: 1}}
	cs = openControl(t, f2, client.ClientControl{Client: "c1", Index: index, Running: held})
	first = cs.until(t, "the resumed stream's first frame", func(client.ControlFrame) bool { return true })
	if !first.Full || first.Index < index {
		t.Fatalf("resumed first frame %+v (resumed from %d)", first, index)
	}
	if len(first.Assignments) != 0 || len(first.Cancels) != 1 ||
		first.Cancels[0] != (client.Cancel{JobID: "j2", Attempt: 1, State: "cancelled"}) {
		t.Fatalf("resumed first frame %+v", first)
	}

	// Retiring the node reaches the client as a node change, and the
	// requeue of its jobs as their cancellation.
	if _, err := leader.RetireNode(ctx, "earth.n1", api.NodeRetire{Requeue: true, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	cs.until(t, "earth.n1 retired", func(f client.ControlFrame) bool {
		return slices.ContainsFunc(f.Nodes, func(n api.Node) bool { return n.ID == "earth.n1" && n.Status == "retired" })
	})
	for _, id := range []string{"j3", "j4"} {
		if cs.cancels(id, 1) == 0 {
			cs.until(t, id+" cancelled", cancelled(id))
		}
	}
	if n := cs.cancels("j2", 1); n != 1 {
		t.Fatalf("j2 cancelled %d times", n)
	}
	for _, f := range cs.seen {
		if len(f.Assignments) != 0 {
			t.Fatalf("the resumed stream assigned what the client holds: %+v", f)
		}
	}
}

// TestControlStreamRefuses: a server that has not applied the index the
// client saw answers 503 once ControlCatchUp has passed, naming the field.

func TestControlStreamRefuses(t *testing.T) {
	a := newAgent(t, func(c *api.Config) { c.ControlCatchUp = 50 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ae *api.Error
	err := a.mgmt.ClientControl(ctx, client.ClientControl{Client: "c1", Index: 1 << 40}, func(*client.ControlFrame) error {
		return errors.New("a frame from a server behind the client")
	})
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Field != "index" {
		t.Fatalf("stream from a server behind the client: %v", err)
	}
}

// TestControlStreamRevoked: revoking a client identity ends its open
// control stream with a frame saying so; the identity cannot open another.
func TestControlStreamRevoked(t *testing.T) {
	a := newAgent(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	join, err := a.mgmt.CreateToken(ctx, "join", "client")
	if err != nil {
		t.Fatal(err)
	}
	joined, err := a.client(t, join.SecretID).ClientJoin(ctx, "c9")
	if err != nil {
		t.Fatal(err)
	}
	id := a.client(t, joined.Secret)
	var ae *api.Error
	if err := id.ClientControl(ctx, client.ClientControl{Client: "other"}, nil); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("a stream for another client: %v", err)
	}
	if err := id.ClientControl(ctx, client.ClientControl{Client: "c9", Running: []api.JobAttempt{{Attempt: 1}}}, nil); !errors.As(err, &ae) ||
		ae.Status != http.StatusBadRequest || ae.Field != "running[0].job" {
		t.Fatalf("a stream naming an attempt without a job: %v", err)
	}
	cs := openControl(t, id, client.ClientControl{Client: "c9"})
	cs.until(t, "the first frame", func(f client.ControlFrame) bool { return f.Full })
	if _, err := a.mgmt.RevokeClient(ctx, "c9", "test"); err != nil {
		t.Fatal(err)
	}
	last := cs.until(t, "the revocation", func(f client.ControlFrame) bool { return f.Revoked != "" })
	if err := <-cs.done; !errors.Is(err, client.ErrRevoked) {
		t.Fatalf("stream ended with %v after frame %+v", err, last)
	}
	cs.done <- nil
	if err := id.ClientControl(ctx, client.ClientControl{Client: "c9"}, nil); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("a revoked identity's stream: %v", err)
	}
}

// TestControlStreamEncodings: the NDJSON stream a human reads with curl
// and the msgpack one client.Client negotiates carry the same frames.
func TestControlStreamEncodings(t *testing.T) {
	a := newAgent(t, nil)
	applyMission(t, a, testMission)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.mgmt.ClientRegister(ctx, api.ClientRegister{Client: "c1", Kinds: []string{"sim"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.mgmt.ClientHeartbeat(ctx, api.ClientHeartbeat{Client: "c1", Nodes: []api.NodeBeat{{ID: "earth.n1", Healthy: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.mgmt.SubmitJobs(ctx, []api.JobSubmit{{ID: "e1", Shard: "earth", Value: 1, Kind: "sim",
		Payload: []byte(`{"duration_ms":0}`)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "e1 assigned", func() bool {
		j, err := a.mgmt.Job(ctx, "e1")
		return err == nil && j.State == "assigned"
	})
	body := `{"client":"c1","running":[{"job":"gone","attempt":1}]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.http.URL+"/v1/client/control", strings.NewReader(body))
	req.Header.Set(api.TokenHeader, a.token.SecretID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	var line client.ControlFrame
	if err := json.NewDecoder(resp.Body).Decode(&line); err != nil {
		t.Fatal(err)
	}
	var packed client.ControlFrame
	stop := errors.New("first frame read")
	err = a.mgmt.ClientControl(ctx, client.ClientControl{Client: "c1", Running: []api.JobAttempt{{JobID: "gone", Attempt: 1}}},
		func(f *client.ControlFrame) error { packed = *f; return stop })
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	if len(line.Assignments) != 1 || line.Assignments[0].JobID != "e1" || len(line.Cancels) != 1 ||
		line.Cancels[0].State != "collected" || !line.Full || len(line.Nodes) == 0 {
		t.Fatalf("first NDJSON frame %+v", line)
	}
	if !reflect.DeepEqual(line, packed) {
		t.Fatalf("encodings differ:\n json    %+v\n msgpack %+v", line, packed)
	}
}
