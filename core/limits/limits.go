// Package limits holds the bounds on what a caller may hand planetary: job
// ids, payloads, capabilities, labels, names, counts, durations and money.
// The HTTP API and the mission parser both check them before anything is
// proposed to raft, and docs/limits.md lists them as one table. Each check
// returns an error wrapping ErrLimit whose text names the field and the
// limit, so a caller can say what to change.
package limits

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrLimit is wrapped by every refusal of this package.
var ErrLimit = errors.New("limit exceeded")

// The bounds. docs/limits.md is the table of these; keep them together.
const (
	// MaxJobIDLen bounds a job id: 1 to 128 characters of [A-Za-z0-9._-].
	// The id travels in every assignment, event and URL of the job.
	MaxJobIDLen = 128
	// MaxKeyLen bounds a job's idempotency key (any printable text).
	MaxKeyLen = 512
	// MaxNameLen bounds shard, node, kind, workload and schedule entry names
	// (letters, digits, '.', '-' and '_'). A generated job id is
	// <shard>-<16 characters>, so it stays within MaxJobIDLen.
	MaxNameLen = 64
	// MaxPayloadBytes bounds a job payload. An assignment goes to its plugin
	// as one gRPC message, which the plugin transport limits to 4 MiB; a
	// 1 MiB payload leaves room for the id, capabilities and framing.
	MaxPayloadBytes = 1 << 20
	// MaxCapabilities and MaxCapabilityLen bound a job's or node's
	// capability list; MaxLabels and MaxLabelLen its labels and tags.
	MaxCapabilities  = 64
	MaxCapabilityLen = 256
	MaxLabels        = 64
	MaxLabelLen      = 256
	// MaxPriority bounds a job priority in either direction.
	MaxPriority = 1_000_000_000
	// MaxCount bounds every count: capacity, concurrency, quota, queue
	// lengths and thresholds, workload counts, locator tails and offsets.
	MaxCount = 1_000_000_000
	// MaxDurationMs bounds every duration given in milliseconds (intervals,
	// latencies, budgets, timeouts, schedule times): 366 days, far inside
	// time.Duration's range, so ms*time.Millisecond cannot overflow.
	MaxDurationMs = 366 * 24 * 3600 * 1000
	// MaxCredits bounds every amount of money (value, max_price, prices) in
	// credits; stored as int64 micro-credits, so the largest amount is
	// 1e15 micro-credits and 9,223 such amounts still sum inside int64.
	MaxCredits = 1_000_000_000
	// MicroPerCredit is the number of micro-credits in one credit.
	MicroPerCredit = 1_000_000
	// MaxMicro is MaxCredits in micro-credits.
	MaxMicro = MaxCredits * MicroPerCredit
	// MaxAttempts bounds a job's max_attempts: 1 to 100 attempts (0 or
	// absent: the mission's, else the server's default of 5).
	MaxAttempts = 100
	// MaxExprDepth bounds how deeply an HCL file may nest brackets,
	// templates and chained operators; it is checked on the tokens before
	// the parser, which recurses once per level, sees the file.
	MaxExprDepth = 128
	// MaxNumberDigits bounds the decimal digits of the numbers an HCL
	// file combines in one value: a literal's digits plus its exponent,
	// summed over the numbers an expression's operators combine (HCL
	// numbers are arbitrary-precision, and writing 1e100000000 out in
	// decimal, as a string conversion or a diagnostic does, takes hours).
	MaxNumberDigits = 1000
	// MaxDiagnostics bounds the diagnostics reported for one file; a
	// summary says how many more were found.
	MaxDiagnostics = 100
)

func refuse(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(format, args...), ErrLimit)
}

// JobID checks a job id: 1 to MaxJobIDLen characters of [A-Za-z0-9._-],
// and not "." or "..".
func JobID(field, id string) error {
	switch {
	case id == "":
		return refuse(field, "job id is empty")
	case len(id) > MaxJobIDLen:
		return refuse(field, "job id is %d bytes, at most %d allowed", len(id), MaxJobIDLen)
	case id == "." || id == "..":
		return refuse(field, "job id %q is not allowed", id)
	}
	if i := badNameChar(id); i >= 0 {
		return refuse(field, "job id has %s at byte %d: use 1-%d of [A-Za-z0-9._-]", describeByte(id, i), i, MaxJobIDLen)
	}
	return nil
}

// Name checks a shard, node, kind, workload or entry name: 1 to MaxNameLen
// characters of [A-Za-z0-9._-].
func Name(field, s string) error {
	switch {
	case s == "":
		return refuse(field, "name is empty")
	case len(s) > MaxNameLen:
		return refuse(field, "name is %d bytes, at most %d allowed", len(s), MaxNameLen)
	}
	if i := badNameChar(s); i >= 0 {
		return refuse(field, "name has %s at byte %d: use 1-%d of [A-Za-z0-9._-]", describeByte(s, i), i, MaxNameLen)
	}
	return nil
}

// PathComponent checks a label used as one file or directory name (the
// reporting label): a Name that is not "." or "..".
func PathComponent(field, s string) error {
	if s == "." || s == ".." {
		return refuse(field, "%q is not a single path component", s)
	}
	if err := Name(field, s); err != nil {
		return err
	}
	return nil
}

// Text checks free text of at most max bytes: valid UTF-8 with no control
// characters (NUL, escape sequences, newlines).
func Text(field, s string, max int) error {
	if len(s) > max {
		return refuse(field, "%d bytes, at most %d allowed", len(s), max)
	}
	if !utf8.ValidString(s) {
		return refuse(field, "not valid UTF-8")
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return refuse(field, "control character %U at byte %d", r, i)
		}
	}
	return nil
}

// Key checks an idempotency key.
func Key(field, s string) error { return Text(field, s, MaxKeyLen) }

// Payload checks a payload's size.
func Payload(field string, n int) error {
	if n > MaxPayloadBytes {
		return refuse(field, "payload is %d bytes, at most %d (%d MiB) allowed", n, MaxPayloadBytes, MaxPayloadBytes>>20)
	}
	return nil
}

// Capabilities checks a capability list: at most MaxCapabilities entries of
// 1 to MaxCapabilityLen bytes of printable text each.
func Capabilities(field string, caps []string) error {
	return list(field, caps, MaxCapabilities, MaxCapabilityLen, "capabilities")
}

// Labels checks a label or tag list.
func Labels(field string, labels []string) error {
	return list(field, labels, MaxLabels, MaxLabelLen, "labels")
}

func list(field string, items []string, maxN, maxLen int, what string) error {
	if len(items) > maxN {
		return refuse(field, "%d %s, at most %d allowed", len(items), what, maxN)
	}
	for i, c := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if c == "" {
			return refuse(f, "empty")
		}
		if err := Text(f, c, maxLen); err != nil {
			return err
		}
	}
	return nil
}

// Priority checks a priority: -MaxPriority to MaxPriority.
func Priority(field string, p int64) error {
	if p < -MaxPriority || p > MaxPriority {
		return refuse(field, "priority %d out of range [%d, %d]", p, -MaxPriority, MaxPriority)
	}
	return nil
}

// Count checks a count: 0 to MaxCount.
func Count(field string, n int64) error {
	if n < 0 || n > MaxCount {
		return refuse(field, "%d out of range [0, %d]", n, MaxCount)
	}
	return nil
}

// DurationMs checks a duration in milliseconds: 0 to MaxDurationMs.
func DurationMs(field string, ms int64) error {
	if ms < 0 || ms > MaxDurationMs {
		return refuse(field, "%d ms out of range [0, %d] (366 days)", ms, int64(MaxDurationMs))
	}
	return nil
}

// Attempts checks a job's max_attempts: 0 (the default) or 1 to
// MaxAttempts.
func Attempts(field string, n int64) error {
	if n < 0 || n > MaxAttempts {
		return refuse(field, "max_attempts %d out of range [1, %d] (0: the default)", n, MaxAttempts)
	}
	return nil
}

// Micro checks an amount already in micro-credits: 0 to MaxMicro.
func Micro(field string, mu int64) error {
	if mu < 0 || mu > MaxMicro {
		return refuse(field, "%d micro-credits out of range [0, %d]", mu, int64(MaxMicro))
	}
	return nil
}

// Credits converts a decimal amount of credits to micro-credits, refusing
// NaN, infinities, negative amounts and amounts above MaxCredits before any
// conversion to an integer. It rounds half away from zero on the shortest
// decimal form of c (so 0.0000005 is 1 micro-credit, as written, not 0 as
// its binary value would round).
func Credits(field string, c float64) (int64, error) {
	switch {
	case math.IsNaN(c) || math.IsInf(c, 0):
		return 0, refuse(field, "%v is not an amount", c)
	case c < 0:
		return 0, refuse(field, "%g must not be negative", c)
	case c > MaxCredits:
		return 0, refuse(field, "%g credits above the maximum of %d", c, int64(MaxCredits))
	}
	return roundMicro(c), nil
}

// SaturatingMicro converts credits to micro-credits for amounts that were
// not checked (display, old records): NaN is 0, and amounts beyond
// ±MaxCredits are clamped, so the conversion never wraps.
func SaturatingMicro(c float64) int64 {
	switch {
	case math.IsNaN(c):
		return 0
	case c >= MaxCredits:
		return MaxMicro
	case c <= -MaxCredits:
		return -MaxMicro
	case c < 0:
		return -roundMicro(-c)
	}
	return roundMicro(c)
}

// roundMicro converts 0 <= c <= MaxCredits to micro-credits from its
// shortest decimal representation.
func roundMicro(c float64) int64 {
	s := strconv.FormatFloat(c, 'f', -1, 64)
	ip, fp, _ := strings.Cut(s, ".")
	fp += strings.Repeat("0", 7)
	whole, _ := strconv.ParseInt(ip, 10, 64)
	frac, _ := strconv.ParseInt(fp[:6], 10, 64)
	mu := whole*MicroPerCredit + frac
	if fp[6] >= '5' {
		mu++
	}
	return mu
}

// badNameChar returns the index of the first byte of s outside
// [A-Za-z0-9._-], or -1.
func badNameChar(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '-' || c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return i
		}
	}
	return -1
}

func describeByte(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError || r < 0x20 || r == 0x7f {
		return fmt.Sprintf("byte 0x%02x", s[i])
	}
	return fmt.Sprintf("%q", r)
}
