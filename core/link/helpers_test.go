package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/planetary/planetary/core/testport"
)

// deadline bounds every wait of these tests; a busy machine stays far below.
const deadline = 90 * time.Second

// fast is a link config that retries quickly, so tests with many faults end
// soon; nothing asserts on its timing.
func fast(from, to string, out Outbox, t Transport) Config {
	return Config{
		From: from, To: to, Outbox: out, Transport: t,
		MaxBatch:       7,
		RequestTimeout: deadline,
		BackoffMin:     time.Millisecond,
		BackoffMax:     5 * time.Millisecond,
		KeepAlive:      20 * time.Millisecond,
	}
}

// drafts returns n messages whose ID and body name the seq they get when
// appended to an outbox holding first-1 messages.
func drafts(first, n int) []Message {
	out := make([]Message, n)
	for i := range out {
		seq := first + i
		out[i] = Message{Kind: "handoff", ID: fmt.Sprintf("h-%d", seq), Body: []byte(fmt.Sprintf("body of %d", seq))}
	}
	return out
}

// exactlyOnce checks that an inbox applied seqs 1..n once each, in order,
// with the content sent.
func exactlyOnce(got []Message, n int) error {
	for i, m := range got {
		want := uint64(i + 1)
		if m.Seq != want {
			return fmt.Errorf("applied message %d is seq %d, want %d: a duplicate or a reordering", i+1, m.Seq, want)
		}
		if m.ID != fmt.Sprintf("h-%d", want) || string(m.Body) != fmt.Sprintf("body of %d", want) {
			return fmt.Errorf("seq %d arrived as %q %q", want, m.ID, m.Body)
		}
	}
	if len(got) != n {
		return fmt.Errorf("applied %d messages, want %d", len(got), n)
	}
	return nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", deadline, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func openStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := OpenStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tempStore(t testing.TB, name string) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".db")
	s := openStore(t, path)
	t.Cleanup(func() { s.Close() })
	return s, path
}

func received(t testing.TB, s *Store, from string) []Message {
	t.Helper()
	msgs, err := s.Received(from, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func through(t testing.TB, s *Store, from string) uint64 {
	t.Helper()
	n, err := s.Through(from)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func appendTo(t testing.TB, s *Store, to string, first, n int) {
	t.Helper()
	if _, err := s.Append(to, drafts(first, n)...); err != nil {
		t.Fatal(err)
	}
}

func startLink(t testing.TB, cfg Config) *Link {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	t.Cleanup(l.Stop)
	return l
}

// server is a real HTTP server on a loopback port.
type server struct {
	addr string
	srv  *http.Server
}

func serve(t testing.TB, addr string, h http.Handler) *server {
	t.Helper()
	var ln net.Listener
	var err error
	end := time.Now().Add(deadline)
	for {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := &server{addr: addr, srv: &http.Server{Handler: h}}
	go s.srv.Serve(ln)
	t.Cleanup(s.stop)
	return s
}

// stop waits for the requests being served, then closes the server.
func (s *server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.srv.Close()
	}
}

func loopback(t testing.TB) string { return testport.Addr(t) }

func httpTransport(t testing.TB, cfg HTTPConfig) *HTTPTransport {
	t.Helper()
	tr, err := NewHTTPTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func faulty(t testing.TB, next Transport, cfg FaultConfig) *Faulty {
	t.Helper()
	f, err := NewFaulty(next, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
