package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNoDir is returned by Write when dir is empty.
var ErrNoDir = errors.New("report: no output directory")

// File names of a bundle.
const (
	FileSummary       = "summary.json"
	FileLedger        = "ledger.json"
	FileEvents        = "events.ndjson"
	FileCheckpoint    = "checkpoint.json"
	FileOwnerExecuted = "owner-commands-executed.json"
	FileOwnerScript   = "owner-script.json"
	FileTopologyMMD   = "mission-topology.mmd"
	FileTopologyHTML  = "mission-topology.html"
	FileChronicle     = "mission-chronicle.md"
	FileDashboard     = "dashboard.html"
)

// TelemetryFile is the name of a shard's telemetry file.
func TelemetryFile(shard string) string { return safeName(shard) + "-telemetry.json" }

// safeName keeps a shard name usable as a file name component.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		out = "_"
	}
	return out
}

// Write renders every artifact of the bundle for in into dir, creating it if
// needed. Each file is written to a temporary name, synced and renamed into
// place, so a reader never sees a half-written file. It returns the paths
// written, in a fixed order.
func Write(dir string, in Input) ([]string, error) {
	if dir == "" {
		return nil, ErrNoDir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: create %s: %w", dir, err)
	}
	in = normalize(in)
	led := BuildLedger(in)
	sum := BuildSummary(in, led)
	svg := SVG(in)

	type file struct {
		name string
		fn   func(w io.Writer) error
	}
	files := []file{
		{FileSummary, jsonTo(sum)},
		{FileLedger, jsonTo(led)},
		{FileEvents, func(w io.Writer) error { return writeEvents(w, in) }},
		{FileCheckpoint, jsonTo(checkpointDoc(in))},
		{FileOwnerExecuted, jsonTo(in.Schedule)},
		{FileOwnerScript, jsonTo(ownerScript(in))},
	}
	for _, s := range in.Shards {
		files = append(files, file{TelemetryFile(s.Name), jsonTo(telemetry(in, s, led))})
	}
	files = append(files,
		file{FileTopologyMMD, func(w io.Writer) error { return stringTo(Mermaid(in))(w) }},
		file{FileTopologyHTML, func(w io.Writer) error { return stringTo(topologyHTML(in, svg))(w) }},
		file{FileChronicle, func(w io.Writer) error { return stringTo(Chronicle(in))(w) }},
		file{FileDashboard, func(w io.Writer) error { return writeDashboard(w, in, sum, led, svg) }},
	)
	// Files are rendered and written by a few workers at once: rendering
	// only reads in, and the fsyncs of several files overlap.
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(writeWorkers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = writeAtomic(filepath.Join(dir, files[i].name), files[i].fn)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	out := make([]string, 0, len(files))
	for i, f := range files {
		if errs[i] != nil {
			return out, errs[i]
		}
		out = append(out, filepath.Join(dir, f.name))
	}
	if err := syncDir(dir); err != nil {
		return out, err
	}
	return out, nil
}

// writeWorkers is how many bundle files Write renders and writes at once.
const writeWorkers = 4

// normalize sorts what the bundle prints so output is deterministic.
func normalize(in Input) Input {
	in.Nodes = append([]NodeView(nil), in.Nodes...)
	sort.SliceStable(in.Nodes, func(i, j int) bool { return in.Nodes[i].ID < in.Nodes[j].ID })
	if in.Schedule.Executed == nil {
		in.Schedule.Executed = []Entry{}
	}
	if in.Schedule.Skipped == nil {
		in.Schedule.Skipped = []Entry{}
	}
	if in.Schedule.Pending == nil {
		in.Schedule.Pending = []Entry{}
	}
	if in.Ledger.Global.Jobs == nil {
		in.Ledger.Global.Jobs = map[string]int64{}
	}
	if in.Ledger.Global.ValueMu == nil {
		in.Ledger.Global.ValueMu = map[string]int64{}
	}
	in.Anchor = normAnchor(in.Anchor)
	in.Ledger.Head = normAnchor(in.Ledger.Head)
	return in
}

func jsonTo(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
}

func stringTo(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// writeEvents writes one line per event, as json.Marshal would, in chunks
// of about 64 KiB.
func writeEvents(w io.Writer, in Input) error {
	b := make([]byte, 0, 64<<10)
	for i := range in.Events {
		b = appendEventLine(b, &in.Events[i])
		if len(b) >= 60<<10 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return err
}

// writeAtomic writes path through a synced temporary file and a rename.
func writeAtomic(path string, fn func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = fn(bw); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("report: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("report: close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("report: rename %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("report: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("report: sync %s: %w", dir, err)
	}
	return nil
}

// CheckpointDoc is the content of checkpoint.json.
type CheckpointDoc struct {
	Mission     string     `json:"mission"`
	GeneratedAt time.Time  `json:"generated_at"`
	Checkpoint  Checkpoint `json:"checkpoint"`
	Restored    bool       `json:"restored"`
	Anchor      Anchor     `json:"anchor"`
	Head        Anchor     `json:"head"`
}

func checkpointDoc(in Input) CheckpointDoc {
	return CheckpointDoc{
		Mission: in.Mission.Name, GeneratedAt: in.GeneratedAt.UTC(), Checkpoint: in.Checkpoint,
		Restored: in.Run.CheckpointRestored, Anchor: in.Anchor, Head: in.Ledger.Head,
	}
}

// OwnerScript is the content of owner-script.json: every owner command as
// a CLI line and as an API request, in the order they were executed.
type OwnerScript struct {
	Mission  string         `json:"mission"`
	Commands []OwnerCommand `json:"commands"`
	CLI      []string       `json:"cli"`
}

func ownerScript(in Input) OwnerScript {
	s := OwnerScript{Mission: in.Mission.Name, Commands: in.OwnerCommands, CLI: []string{}}
	if s.Commands == nil {
		s.Commands = []OwnerCommand{}
	}
	for _, c := range in.OwnerCommands {
		if c.CLI != "" {
			s.CLI = append(s.CLI, c.CLI)
		}
	}
	return s
}

// Telemetry is the content of <shard>-telemetry.json.
type Telemetry struct {
	Shard       string           `json:"shard"`
	DisplayName string           `json:"display_name,omitempty"`
	Health      string           `json:"health"`
	Paused      bool             `json:"paused"`
	QueueDepth  int64            `json:"queue_depth"`
	InFlight    int64            `json:"in_flight"`
	Completed   int64            `json:"completed"`
	Failed      int64            `json:"failed"`
	Parked      int64            `json:"parked"`
	SpilledOut  int64            `json:"spilled_out"`
	SpilledIn   int64            `json:"spilled_in"`
	Series      []TelemetryPoint `json:"series"`
	Counts      map[string]int64 `json:"counts"`
	ValueMu     map[string]int64 `json:"value_mu"`
}

// TelemetryPoint is one sample of a shard's series.
type TelemetryPoint struct {
	TimeMs     int64 `json:"time_ms"`
	QueueDepth int64 `json:"queue_depth"`
	Completed  int64 `json:"completed"`
}

func telemetry(in Input, s ShardView, led LedgerDoc) Telemetry {
	t := Telemetry{
		Shard: s.Name, DisplayName: s.DisplayName, Health: s.Health, Paused: s.Paused,
		QueueDepth: s.QueueDepth, InFlight: s.Counts["assigned"] + s.Counts["running"],
		Completed: s.Counts["completed"], Failed: s.Counts["failed"], Parked: s.Counts["parked"],
		Series: []TelemetryPoint{}, Counts: s.Counts, ValueMu: s.ValueMu,
	}
	for _, f := range led.Flows {
		if f.From == s.Name {
			t.SpilledOut += f.Jobs
		}
		if f.To == s.Name {
			t.SpilledIn += f.Jobs
		}
	}
	for _, p := range in.Series {
		if v, ok := p.PerShard[s.Name]; ok {
			t.Series = append(t.Series, TelemetryPoint{TimeMs: p.TimeMs, QueueDepth: v.QueueDepth, Completed: v.Completed})
		}
	}
	return t
}
