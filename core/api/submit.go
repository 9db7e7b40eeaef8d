package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// decodeSubmit reads the body of POST /v1/jobs: one JSON array of jobs and
// nothing after it. Each job is decoded on its own, so an error names the
// job's position (`jobs[3].priority`).
func decodeSubmit(body io.Reader) ([]JobSubmit, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return nil, decodeError(err, "")
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, badRequest("jobs", "the body must be a JSON array of jobs")
	}
	var out []JobSubmit
	for i := 0; dec.More(); i++ {
		var j JobSubmit
		if err := dec.Decode(&j); err != nil {
			return nil, decodeError(err, fmt.Sprintf("jobs[%d]", i))
		}
		out = append(out, j)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, decodeError(err, "")
	}
	if err := noTrailing(dec); err != nil {
		return nil, err
	}
	return out, nil
}

// limitError turns a limits refusal of field into a 400 naming it.
func limitError(field string, err error) error {
	if err == nil {
		return nil
	}
	return badRequest(field, "%v", err)
}

// validateSubmit checks every job against the limits (docs/limits.md) and
// converts it to the replicated form. It reads no state; the handler checks
// the shards.
func validateSubmit(req []JobSubmit) ([]command.JobSubmit, error) {
	if len(req) == 0 {
		return nil, badRequest("jobs", "no jobs")
	}
	jobs := make([]command.JobSubmit, len(req))
	for i, j := range req {
		f := func(name string) string { return fmt.Sprintf("jobs[%d].%s", i, name) }
		if j.ID != "" {
			if err := limits.JobID(f("id"), j.ID); err != nil {
				return nil, limitError(f("id"), err)
			}
		}
		if j.Shard == "" {
			return nil, badRequest(f("shard"), "jobs[%d]: shard is required", i)
		}
		if err := limits.Name(f("shard"), j.Shard); err != nil {
			return nil, limitError(f("shard"), err)
		}
		if j.Kind != "" {
			if err := limits.Name(f("kind"), j.Kind); err != nil {
				return nil, limitError(f("kind"), err)
			}
		}
		if err := limits.Key(f("key"), j.Key); err != nil {
			return nil, limitError(f("key"), err)
		}
		if err := limits.Capabilities(f("capabilities"), j.Capabilities); err != nil {
			return nil, limitError(f("capabilities"), err)
		}
		if err := limits.Priority(f("priority"), j.Priority); err != nil {
			return nil, limitError(f("priority"), err)
		}
		if err := limits.Payload(f("payload"), len(j.Payload)); err != nil {
			return nil, limitError(f("payload"), err)
		}
		if err := limits.Attempts(f("max_attempts"), j.MaxAttempts); err != nil {
			return nil, limitError(f("max_attempts"), err)
		}
		value, err := checkMoney(f("value"), j.Value, j.ValueMicro)
		if err != nil {
			return nil, err
		}
		maxPrice, err := checkMoney(f("max_price"), j.MaxPrice, j.MaxPriceMicro)
		if err != nil {
			return nil, err
		}
		units, err := UnitsRecord(j.Units)
		if err != nil {
			return nil, badRequest(f("units"), "jobs[%d]: %v", i, err)
		}
		jobs[i] = command.JobSubmit{ID: j.ID, Key: j.Key, Shard: j.Shard, Capabilities: j.Capabilities,
			Priority: j.Priority, ValueMu: value, MaxPriceMu: maxPrice, Kind: j.Kind,
			Payload: []byte(j.Payload), Units: units,
			MaxAttempts: uint32(j.MaxAttempts)}
	}
	return jobs, nil
}

// requireShards refuses a batch naming a shard that does not exist, naming
// the first job that does: a refused batch never reaches raft.
func (h *HTTP) requireShards(jobs []command.JobSubmit) error {
	var bad = -1
	h.b.Read(func(s *state.Store) {
		last := ""
		for i := range jobs {
			if jobs[i].Shard == last {
				continue
			}
			if s.Shard(jobs[i].Shard) == nil {
				bad = i
				return
			}
			last = jobs[i].Shard
		}
	})
	if bad < 0 {
		return nil
	}
	field := fmt.Sprintf("jobs[%d].shard", bad)
	return &apiError{status: http.StatusNotFound, field: field,
		msg: fmt.Sprintf("%s: shard %q not found; no job of the batch was submitted", field, jobs[bad].Shard)}
}
