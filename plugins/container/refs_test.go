package container

import (
	"slices"
	"testing"
)

func TestImageRefs(t *testing.T) {
	cases := []struct {
		ref  string
		want []string
	}{
		{"localhost/bb:1", []string{"localhost/bb:1", "bb:1"}},
		{"docker.io/library/busybox:latest", []string{"docker.io/library/busybox:latest", "busybox:latest"}},
		{"quay.io/org/app:2", []string{"quay.io/org/app:2"}},
		{"bb:1", []string{"bb:1"}},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			if got := ImageRefs(c.ref); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}
