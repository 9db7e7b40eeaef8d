package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
)

// proxy is a TCP proxy that can be severed: it then closes its connections
// and refuses new ones until healed.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.sever(true) })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// sever cuts (true) or heals (false) the link.
func (p *proxy) sever(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// TestPartition: raft traffic between each ordered pair of servers goes
// through its own proxy (server i dials server j's raft address through
// proxy i->j). The leader is cut off from the other two: the majority
// elects a leader and keeps serving writes; the cut-off server refuses
// writes and consistent reads with "no leader" while still answering stale
// reads; after healing every server agrees (equal digests).
func TestPartition(t *testing.T) {
	binds := make([]string, 3)
	for i := range binds {
		binds[i] = freeAddr(t)
	}
	links := map[[2]int]*proxy{}
	for i := range 3 {
		for j := range 3 {
			if i != j {
				links[[2]int{i, j}] = newProxy(t, binds[j])
			}
		}
	}
	c := newAPIClusterWith(t, func(i int, cfg *server.Config) {
		cfg.BindAddr = binds[i]
		cfg.RaftDial = func(addr string, timeout time.Duration) (net.Conn, error) {
			for j, b := range binds {
				if b == addr && j != i {
					return net.DialTimeout("tcp", links[[2]int{i, j}].ln.Addr().String(), timeout)
				}
			}
			return net.DialTimeout("tcp", addr, timeout)
		}
	})
	isolate := func(m int, cut bool) {
		for k, p := range links {
			if k[0] == m || k[1] == m {
				p.sever(cut)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := func(i int, stale bool) *client.Client {
		cl, _ := client.NewClient(client.ClientConfig{Address: c.urls[i], Stale: stale})
		return cl
	}
	m := c.leader()
	if _, err := client(m, false).RegisterShard(ctx, api.Shard{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	isolate(m, true)
	majority := []int{(m + 1) % 3, (m + 2) % 3}
	eventually(t, 20*time.Second, "a leader in the majority", func() bool {
		l := c.leader()
		return l == majority[0] || l == majority[1]
	})
	eventually(t, 20*time.Second, "the cut-off server steps down", func() bool { return !c.servers[m].IsLeader() })
	// The majority serves writes through either of its servers.
	for k, i := range majority {
		name := fmt.Sprintf("during-%d", k)
		eventually(t, 20*time.Second, "a write through the majority", func() bool {
			_, err := client(i, false).RegisterShard(ctx, api.Shard{Name: name})
			return err == nil
		})
	}
	// The minority refuses writes and consistent reads, naming no leader.
	eventually(t, 20*time.Second, "the minority reports no leader", func() bool {
		_, err := client(m, false).RegisterShard(ctx, api.Shard{Name: "minority"})
		var ae *api.Error
		return errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable && strings.Contains(ae.Message, "no leader")
	})
	var ae *api.Error
	if _, err := client(m, false).Shards(ctx); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("minority consistent read: %v", err)
	}
	shards, err := client(m, true).Shards(ctx)
	if err != nil {
		t.Fatalf("minority stale read: %v", err)
	}
	for _, s := range shards {
		if strings.HasPrefix(s.Name, "during") || s.Name == "minority" {
			t.Fatalf("minority saw %s", s.Name)
		}
	}
	// Heal: the cut-off server catches up and every digest agrees.
	isolate(m, false)
	eventually(t, 30*time.Second, "equal digests after healing", func() bool {
		var first api.Digest
		for i := range 3 {
			d, err := client(i, true).Digest(ctx, true)
			if err != nil || (i > 0 && d != first) {
				return false
			}
			first = d
		}
		return true
	})
	if _, err := client(m, false).Shard(ctx, "during-1"); err != nil {
		t.Fatalf("healed server forwards a consistent read: %v", err)
	}
}
