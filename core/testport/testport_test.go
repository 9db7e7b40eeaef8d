package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestAddrBelowEphemeralAndDistinct checks that addresses are bindable,
// below the ephemeral range and never repeated.
func TestAddrBelowEphemeralAndDistinct(t *testing.T) {
	floor := ephemeralFloor()
	seen := map[string]bool{}
	for range 300 {
		a := Addr(t)
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		_, ps, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(ps)
		if floor > lowest+100 && (p < lowest || p >= floor) {
			t.Fatalf("port %d outside [%d, %d)", p, lowest, floor)
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s not bindable: %v", a, err)
		}
		ln.Close()
	}
}
