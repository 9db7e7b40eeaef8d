package server

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
)

// TestAttemptSeed pins the seed to its definition, the first 8 bytes of
// sha256(missionSeed || jobID || attempt), so simulated outcomes stay
// reproducible across versions.
func TestAttemptSeed(t *testing.T) {
	ref := func(seed uint64, job string, attempt uint32) uint64 {
		h := sha256.New()
		h.Write(binary.BigEndian.AppendUint64(nil, seed))
		h.Write([]byte(job))
		h.Write(binary.BigEndian.AppendUint32(nil, attempt))
		return binary.BigEndian.Uint64(h.Sum(nil))
	}
	cases := []struct {
		seed    uint64
		job     string
		attempt uint32
	}{
		{0, "", 0},
		{7, "job-1", 1},
		{1<<64 - 1, "j", 1<<32 - 1},
		{42, strings.Repeat("long-id-", 40), 3}, // past the stack buffer
	}
	for _, tc := range cases {
		if got, want := AttemptSeed(tc.seed, tc.job, tc.attempt), ref(tc.seed, tc.job, tc.attempt); got != want {
			t.Errorf("AttemptSeed(%d, %.20q, %d) = %#x, want %#x", tc.seed, tc.job, tc.attempt, got, want)
		}
	}
}
