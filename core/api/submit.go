package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

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

// SubmitRefusal checks a POST /v1/jobs body as the route does before it
// reads any state (decoding, money, units, limits, validate.Job) and returns
// the status and body of the route's refusal; ok is true when it has none.
// A caller that splits one batch between servers (the region host's front)
// checks the whole batch with it before sending any part, so a malformed
// job refuses the batch everywhere.
func SubmitRefusal(body []byte) (status int, eb ErrorBody, ok bool) {
	req, err := decodeSubmit(bytes.NewReader(body))
	if err == nil {
		_, err = validateSubmit(req)
	}
	if err == nil {
		return 0, ErrorBody{}, true
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		return http.StatusBadRequest, ErrorBody{Error: err.Error()}, false
	}
	return ae.status, ErrorBody{Error: ae.msg, Field: ae.field, Path: ae.path}, false
}
