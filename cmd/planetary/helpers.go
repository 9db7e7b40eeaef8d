package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/mission"
)

// parseAll parses flags wherever they appear among args (so
// `job status ID -json` works as well as `job status -json ID`) and returns
// the positional arguments. Everything after "--" is positional. It returns
// ok=false after printing a usage error, or on -h.
func (m *Meta) parseAll(fs *flag.FlagSet, args []string) ([]string, bool) {
	var pos []string
	rest := args
	for {
		if len(rest) > 0 && rest[0] == "--" {
			return append(pos, rest[1:]...), true
		}
		if !m.parse(fs, rest) {
			return nil, false
		}
		rest = fs.Args()
		if len(rest) == 0 {
			return pos, true
		}
		if rest[0] == "--" {
			continue
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
}

// context returns a context that ends on an interrupt.
func (m *Meta) context() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// apiFail prints one readable line for an API error: the server's message
// for an API answer, or why the agent could not be reached. Diagnostics of
// a mission the server could not parse follow, one line each.
func (m *Meta) apiFail(what string, err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		msg := ae.Message
		if ae.Leader != "" {
			msg += fmt.Sprintf(" (leader is %s)", ae.Leader)
		}
		if ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden {
			msg += tokenHint(m.TokenSource(), m.Address(), ae.Status, ae.Message)
		}
		m.Ui.Error(fmt.Sprintf("Error %s: %s", what, msg))
		for _, d := range ae.Diagnostics {
			m.Ui.Error(diagnosticLine(d))
		}
		return 1
	}
	if errors.Is(err, context.Canceled) {
		return m.fail("Error %s: interrupted", what)
	}
	return m.fail("Error %s: %v (is a planetary agent serving %s?)", what, err, m.Address())
}

func diagnosticLine(d api.Diagnostic) string {
	line := fmt.Sprintf("%s:%d,%d: %s", d.File, d.Line, d.Col, d.Summary)
	if d.Severity == "warning" {
		line = fmt.Sprintf("%s:%d,%d: warning: %s", d.File, d.Line, d.Col, d.Summary)
	}
	if d.Detail != "" {
		line += "; " + d.Detail
	}
	return line
}

// diagnostics prints HCL diagnostics (one `<file>:<line>,<col>: <summary>`
// line each, then snippets) to the error stream and reports whether any of
// them is an error.
func (m *Meta) diagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) bool {
	if len(diags) == 0 {
		return false
	}
	located := false
	for _, d := range diags {
		located = located || d.Subject != nil
	}
	if !located {
		// Nothing to point at (an unreadable file): one line each.
		for _, d := range diags {
			line := "Error: " + d.Summary
			if d.Detail != "" {
				line += ": " + d.Detail
			}
			m.Ui.Error(line)
		}
		return diags.HasErrors()
	}
	var b strings.Builder
	if err := mission.FormatDiagnostics(&b, files, diags); err != nil {
		m.Ui.Error(diags.Error())
		return diags.HasErrors()
	}
	out := strings.TrimRight(b.String(), "\n")
	if diags.HasErrors() {
		m.Ui.Error(out)
	} else {
		m.Ui.Warn(out)
	}
	return diags.HasErrors()
}

// table renders rows under a header with aligned columns.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	_ = w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// kv renders label/value pairs as aligned "Label = value" lines, skipping
// empty values.
func kv(pairs ...string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 1, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		fmt.Fprintf(w, "%s\t= %s\n", pairs[i], pairs[i+1])
	}
	_ = w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// credits formats an amount of micro-credits as decimal credits without
// trailing zeros ("2.5", "0.000001"), exactly: money is formatted here, at
// the edge, never carried as a float.
func credits(mu int64) string {
	sign := ""
	u := uint64(mu)
	if mu < 0 {
		sign, u = "-", -u
	}
	s := sign + strconv.FormatUint(u/1_000_000, 10)
	if frac := u % 1_000_000; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	}
	return s
}

// number formats a decimal quantity (units, credits per unit) without
// trailing zeros.
func number(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// stamp formats a Unix-nanosecond time (empty for zero).
func stamp(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// ageMs formats a millisecond age; negative means unknown.
func ageMs(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Millisecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// countsLine renders counts by state as "queued=3 (1.5) completed=2 (4)".
func countsLine(c api.Counts) string {
	if len(c) == 0 {
		return "-"
	}
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d (%s)", n, c[n].Jobs, credits(c[n].ValueMicro))
	}
	return strings.Join(parts, " ")
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// setFlags returns the names of the flags set on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	out := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { out[f.Name] = true })
	return out
}

// apiFlags are the shared API flags for autocompletion, plus extra.
func apiFlags(extra complete.Flags) complete.Flags {
	out := complete.Flags{
		"-address": complete.PredictAnything,
		"-token":   complete.PredictAnything,
		"-json":    complete.PredictNothing,
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// parseFabricFile reads a file that holds only shard or node blocks as a
// mission so core/mission can decode it: a mission block is appended (so
// line numbers stay those of the file) and references to shards the file
// does not declare are left for the server to check.
func parseFabricFile(path string) (*mission.Mission, map[string]*hcl.File, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Failed to read file",
			Detail: fmt.Sprintf("The file %q could not be read: %s.", path, err),
		}}
	}
	wrapped := append(append([]byte{}, src...), []byte("\nmission \"planetary-cli\" {}\n")...)
	f, diags := mission.Parse(wrapped, path)
	var kept hcl.Diagnostics
	for _, d := range diags {
		if d.Summary == "Unknown shard" {
			continue
		}
		kept = append(kept, d)
	}
	return f.Mission, f.Sources, kept
}

// printJSONLine writes v as one line of compact JSON (streams).
func (m *Meta) printJSONLine(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return m.fail("Error encoding JSON: %v", err)
	}
	m.Ui.Output(string(b))
	return 0
}

// wantArgs checks the positional arguments against the command's usage:
// names are the arguments it takes ("<id>"). When parsing failed (ok is
// false: the flag error or -h was already handled) or the count is wrong,
// it prints one error line saying what the command takes and returns
// false; the caller then returns cli.RunResultHelp for the usage.
func (m *Meta) wantArgs(ok bool, pos []string, names ...string) bool {
	if !ok {
		return false
	}
	if len(pos) == len(names) {
		return true
	}
	switch len(names) {
	case 0:
		m.Ui.Error(fmt.Sprintf("This command takes no arguments, got %q", pos))
	case 1:
		m.Ui.Error("This command takes one argument: " + names[0])
	default:
		m.Ui.Error(fmt.Sprintf("This command takes %d arguments: %s", len(names), strings.Join(names, " ")))
	}
	return false
}

// tokenHint says which token a refused call used (source is TokenSource())
// and what to do: status is the API's answer (401: no token was sent or it
// is not known to the cluster; 403: it lacks the rights), msg its message.
func tokenHint(source, addr string, status int, msg string) string {
	const kept = "an agent that bootstrapped ACLs itself keeps its management token in <data-dir>/management.token"
	if source == "none" {
		return fmt.Sprintf(" (no token was sent to %s: neither -token nor PLANETARY_TOKEN is set; "+
			"export PLANETARY_TOKEN with a token of that cluster (%s), or run `planetary acl bootstrap` once on a new cluster)",
			addr, kept)
	}
	drop := "unset PLANETARY_TOKEN"
	if source == tokenFromFlag {
		drop = "drop -token"
	}
	switch {
	case status == http.StatusForbidden:
		return fmt.Sprintf(" (the token from %s is known to the cluster at %s but lacks the rights this command needs; "+
			"use a token with them, e.g. one made by `planetary acl token create -type management`)", source, addr)
	case strings.Contains(msg, "revoked"):
		return fmt.Sprintf(" (the token from %s is a revoked client identity; use an operator's token of the cluster at %s, or %s)",
			source, addr, drop)
	}
	return fmt.Sprintf(" (the token from %s was not found on the cluster at %s; use a token of that cluster (%s), "+
		"run `planetary acl bootstrap` if it has none yet, or %s)", source, addr, kept, drop)
}
