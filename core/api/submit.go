package api

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/planetary/planetary/core/limits"
	"github.com/planetary/planetary/core/validate"
	"github.com/planetary/planetary/raftfsm/command"
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

// validateSubmit converts every job to the replicated form, checking what
// only the wire form shows (money given in credits, micro-credits or both;
// units) and the job's values (validate.Job, the rule the endpoint
// server.SubmitJobs applies too). It reads no state; the endpoint checks
// the shards.
func validateSubmit(req []JobSubmit) ([]command.JobSubmit, error) {
	if len(req) == 0 {
		return nil, badRequest("jobs", "no jobs")
	}
	jobs := make([]command.JobSubmit, len(req))
	for i, j := range req {
		f := func(name string) string { return fmt.Sprintf("jobs[%d].%s", i, name) }
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
		// Checked before it narrows to the record's uint32.
		if err := limits.Attempts(f("max_attempts"), j.MaxAttempts); err != nil {
			return nil, limitError(f("max_attempts"), err)
		}
		jobs[i] = command.JobSubmit{ID: j.ID, Key: j.Key, Shard: j.Shard, Capabilities: j.Capabilities,
			Priority: j.Priority, ValueMu: value, MaxPriceMu: maxPrice, Kind: j.Kind,
			Payload: []byte(j.Payload), Units: units,
			MaxAttempts: uint32(j.MaxAttempts)}
		if err := validate.Job(i, jobs[i]); err != nil {
			return nil, fieldError(err)
		}
	}
	return jobs, nil
}
