// Package testport hands out loopback TCP addresses for tests that start
// servers in other processes or bind them later.
//
// A port taken with "127.0.0.1:0" and closed again comes from the kernel's
// ephemeral range, which is also where outgoing connections get their local
// ports: between the close and the child's bind, a connection made by any
// process can take it, and the child then fails with "address already in
// use". Ports here are drawn below that range, never handed out twice in one
// process, and checked free by a bind before they are returned.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	lowest  = 20000 // below this, well-known services are more likely
	floorOf = 32768 // Linux's default ephemeral floor, if /proc says nothing
)

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Addr returns a free "127.0.0.1:port" outside the ephemeral port range.
func Addr(tb testing.TB) string {
	tb.Helper()
	addr, err := pick()
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

func pick() (string, error) {
	high := ephemeralFloor()
	if high <= lowest+100 {
		return fallback()
	}
	mu.Lock()
	defer mu.Unlock()
	for range 200 {
		p := lowest + rand.IntN(high-lowest)
		if given[p] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		given[p] = true
		return addr, nil
	}
	return "", fmt.Errorf("testport: no free port in %d-%d", lowest, high-1)
}

// fallback asks the kernel when the ephemeral range starts too low to leave
// room below it.
func fallback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("testport: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ephemeralFloor is the first port of the kernel's ephemeral range.
func ephemeralFloor() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return floorOf
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return floorOf
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return floorOf
	}
	return n
}
