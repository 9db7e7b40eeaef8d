package mission

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/raftfsm/command"
)

// ParseJobFile reads a job file: one or more job "ID" { ... } blocks.
func ParseJobFile(path string) ([]JobSpec, hcl.Diagnostics) {
	src, diags := readFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	return ParseJobs(src, path)
}

// ParseJobs is ParseJobFile over bytes.
func ParseJobs(src []byte, filename string) ([]JobSpec, hcl.Diagnostics) {
	f, diags := parseHCL(hclparse.NewParser(), src, filename)
	if f == nil || f.Body == nil {
		return nil, capDiagnostics(diags)
	}
	docs := jobFileDocs()
	top := &BlockDoc{Name: "file", Blocks: docs}
	c, d := f.Body.Content(top.bodySchema())
	diags = append(diags, d...)
	jobs := []JobSpec{}
	seen := map[string]hcl.Range{}
	p := &parser{diags: diags}
	for _, b := range c.Blocks {
		id := checkName(b, "job", &p.diags)
		r, _ := content(&docs[0], b.Body, b.DefRange, &p.diags)
		j := JobSpec{
			ID:           id,
			Key:          r.String("key"),
			Shard:        r.NonEmpty("shard"),
			Capabilities: r.Strings("capabilities"),
			Priority:     r.Int("priority"),
			ValueMu:      r.Credits("value"),
			MaxPriceMu:   r.Credits("max_price"),
			Units:        r.Units("units"),
			Kind:         r.NonEmpty("kind"),
			Payload:      r.Object("payload"),
		}
		if j.Payload == nil {
			j.Payload = []byte("{}")
		}
		if id != "" {
			if err := limits.JobID("job", id); err != nil {
				p.errorf(labelRange(b), "Invalid job id", "%v.", err)
			}
		}
		r.limit("key", limits.Key("key", j.Key))
		r.limit("priority", limits.Priority("priority", j.Priority))
		r.limit("capabilities", limits.Capabilities("capabilities", j.Capabilities))
		r.limit("payload", limits.Payload("payload", len(j.Payload)))
		j.Capabilities = RequiredCapabilities(j.Kind, j.Payload, j.Capabilities)
		if p.declare(seen, "job", id, b) {
			jobs = append(jobs, j)
		}
	}
	if len(c.Blocks) == 0 && !p.diags.HasErrors() {
		p.errorf(f.Body.MissingItemRange(), "No jobs", "%s holds no job \"ID\" { ... } block.", filename)
	}
	return jobs, capDiagnostics(p.diags)
}

// ContainerKind is the job kind run by the container agent.
const ContainerKind = "container"

// RequiredCapabilities returns the capabilities a job of kind with payload
// requires: caps, plus "image:<payload.image>" for a container job whose
// payload names an image, unless caps already holds it. An image without a
// tag or digest is taken as <image>:latest, as the runtime does. A node advertises
// that capability for each image it has locally, so such a job only goes to
// a node that can run it (and is parked, naming the capability, when none
// can). caps is returned as is when nothing is added.
func RequiredCapabilities(kind string, payload []byte, caps []string) []string {
	if kind != ContainerKind || len(payload) == 0 {
		return caps
	}
	var p struct {
		Image any `json:"image"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return caps
	}
	img, ok := p.Image.(string)
	if !ok || img == "" {
		return caps
	}
	if name := img[strings.LastIndex(img, "/")+1:]; !strings.ContainsAny(name, ":@") {
		img += ":latest" // the runtime lists name:tag
	}
	want := "image:" + img
	for _, c := range caps {
		if c == want {
			return caps
		}
	}
	out := make([]string, 0, len(caps)+1)
	out = append(out, caps...)
	return append(out, want)
}

// Command converts the spec to the replicated submit form.
func (j JobSpec) Command(submitter string) command.JobSubmit {
	return command.JobSubmit{
		ID: j.ID, Key: j.Key, Shard: j.Shard, Capabilities: append([]string(nil), j.Capabilities...),
		Priority: j.Priority, ValueMu: j.ValueMu, MaxPriceMu: j.MaxPriceMu, Kind: j.Kind,
		Payload: append([]byte(nil), j.Payload...), Submitter: submitter, Units: slices.Clone(j.Units),
	}
}

// Jobs generates the workload's first limit jobs (all Count when limit <= 0
// or above Count). Job n (1-based) has id <id_prefix>-<n> zero-padded to at
// least four digits, key <mission>/<workload>/<n> and value value +
// (n-1)*value_step. The payload is the workload payload with duration_ms
// added when set. seed is the mission seed; jobs are a pure function of the
// workload and the seed (today they do not depend on it: per-job randomness
// is derived by agents from the seed and the job id). The jobs of one
// workload share their Capabilities and Payload slices: treat them as
// read-only.
func (w *Workload) Jobs(seed uint64, limit int) []JobSpec {
	_ = seed
	return w.appendJobs(nil, w.Count, limit)
}

// appendJobs appends the first limit (<= 0: all) of count jobs to out.
func (w *Workload) appendJobs(out []JobSpec, count int64, limit int) []JobSpec {
	n := count
	if limit > 0 && int64(limit) < n {
		n = int64(limit)
	}
	width := max(len(strconv.FormatInt(count, 10)), 4)
	payload := w.payload()
	caps := RequiredCapabilities(w.Kind, payload, w.Capabilities)
	idPrefix := w.IDPrefix + "-"
	keyPrefix := w.Mission + "/" + w.Name + "/"
	if out == nil {
		out = make([]JobSpec, 0, n)
	}
	buf := make([]byte, 0, 64)
	for i := int64(1); i <= n; i++ {
		num := strconv.AppendInt(buf[:0], i, 10)
		id := make([]byte, 0, len(idPrefix)+width)
		id = append(id, idPrefix...)
		for pad := width - len(num); pad > 0; pad-- {
			id = append(id, '0')
		}
		id = append(id, num...)
		out = append(out, JobSpec{
			ID:           string(id),
			Key:          keyPrefix + string(num),
			Shard:        w.Shard,
			Capabilities: caps,
			Priority:     w.Priority,
			ValueMu:      w.ValueMu + (i-1)*w.ValueStepMu,
			MaxPriceMu:   w.MaxPriceMu,
			Units:        w.Units,
			Kind:         w.Kind,
			Payload:      payload,
		})
	}
	return out
}

// payload is the workload payload with duration_ms merged in, as JSON.
func (w *Workload) payload() []byte {
	obj := map[string]any{}
	if len(w.Payload) > 0 {
		if err := json.Unmarshal(w.Payload, &obj); err != nil {
			panic(fmt.Sprintf("mission: workload %q payload is not a JSON object: %v", w.Name, err))
		}
	}
	if w.DurationMs > 0 {
		obj["duration_ms"] = w.DurationMs
	}
	b, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("mission: marshal payload: %v", err))
	}
	return b
}

// ScaleCounts scales the workloads' counts proportionally to sum to total
// (largest remainder, ties to the earlier workload). total <= 0 keeps the
// blueprint's own counts.
func ScaleCounts(ws []Workload, total int) []int64 {
	out := make([]int64, len(ws))
	var sum int64
	for i, w := range ws {
		out[i] = w.Count
		sum += w.Count
	}
	if total <= 0 || sum == 0 {
		return out
	}
	type rem struct {
		i int
		r int64
	}
	var assigned int64
	rems := make([]rem, len(ws))
	for i, w := range ws {
		q := int64(total) * w.Count
		out[i] = q / sum
		assigned += out[i]
		rems[i] = rem{i, q % sum}
	}
	for left := int64(total) - assigned; left > 0; left-- {
		best := 0
		for k := range rems {
			if rems[k].r > rems[best].r {
				best = k
			}
		}
		out[rems[best].i]++
		rems[best].r = -1
	}
	return out
}

// GenerateJobs returns the mission's workload jobs scaled to total jobs
// (total <= 0: the blueprint's counts), workload by workload in file order.
// The same mission and total always give the same jobs.
func GenerateJobs(m *Mission, total int) []JobSpec {
	counts := ScaleCounts(m.Workloads, total)
	var sum int64
	for _, c := range counts {
		sum += c
	}
	out := make([]JobSpec, 0, sum)
	for i := range m.Workloads {
		out = m.Workloads[i].appendJobs(out, counts[i], 0)
	}
	return out
}
