package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/validate"
	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Job, operator, mission and identity endpoints.

// ---- jobs

// SubmitJobs commits a batch of jobs (job.submit): a batch naming a shard
// that does not exist is refused whole, naming the first job that does.
// Outcomes are in input order (see Submit).
func (s *Server) SubmitJobs(ctx context.Context, a Actor, jobs []command.JobSubmit) (outs []raftfsm.Outcome, err error) {
	err = s.run(a, epSubmit, func(st *state.Store) error { return checkSubmit(st, jobs) }, func() error {
		outs, err = s.Submit(ctx, jobs, a.Name)
		return err
	})
	return outs, err
}

var epSubmit = row("job.submit", command.SubmitBatchType, CapSubmit,
	func(_ *Server, st *state.Store, c *command.SubmitBatch) error { return checkSubmit(st, c.Jobs) })

func checkSubmit(st *state.Store, jobs []command.JobSubmit) error {
	if len(jobs) == 0 {
		return invalid("jobs", "no jobs")
	}
	last := ""
	for i := range jobs {
		j := &jobs[i]
		if err := validate.Job(i, *j); err != nil {
			return err
		}
		if j.Shard == last {
			continue
		}
		if st.Shard(j.Shard) == nil {
			f := fmt.Sprintf("jobs[%d].shard", i)
			return refusal(NotFound, f, "%s: shard %q not found; no job of the batch was submitted", f, j.Shard)
		}
		last = j.Shard
	}
	return nil
}

// CancelJobs cancels jobs by id or by a locator (job.cancel).
func (s *Server) CancelJobs(ctx context.Context, a Actor, req command.JobCancel) (Result, error) {
	return s.call(ctx, a, epCancelJobs, req.Meta.Reason, &req)
}

var epCancelJobs = row("job.cancel", command.JobCancelType, CapManage,
	func(_ *Server, st *state.Store, c *command.JobCancel) error {
		return checkSelection(st, c.IDs, c.Locator)
	})

// Reroute moves jobs, by id or by a locator, to another shard
// (job.reroute).
func (s *Server) Reroute(ctx context.Context, a Actor, req command.JobReroute) (Result, error) {
	return s.call(ctx, a, epReroute, req.Meta.Reason, &req)
}

var epReroute = row("job.reroute", command.JobRerouteType, CapManage,
	func(_ *Server, st *state.Store, c *command.JobReroute) error {
		if err := checkSelection(st, c.IDs, c.Locator); err != nil {
			return err
		}
		if err := requireShard(st, "target", c.Target); err != nil || c.Locator == nil {
			return err
		}
		return validate.RerouteTarget(c.Locator.Shard, c.Target)
	})

// JobNotFound is the refusal of a job id no job has: a collected job's tomb
// says when it was collected (docs/retention.md).
func JobNotFound(st *state.Store, id string) error {
	t, ok := st.CollectedByID(id)
	if !ok {
		return refusal(NotFound, "", "job %q not found", id)
	}
	msg := fmt.Sprintf("job %q collected at %s (mission time %d", id, time.Unix(0, t.CollectedAt).UTC().Format(time.RFC3339Nano), t.CollectedAt)
	if t.CollectedIndex > 0 {
		msg += fmt.Sprintf(", raft index %d", t.CollectedIndex)
	}
	return refusal(NotFound, "", "%s): it was %s and its record is gone; its share of the ledger stays in the totals", msg, t.State)
}

// checkSelection checks the jobs a cancel or reroute picks: ids of which
// at least one names a job (the FSM refuses the others one by one), or a
// locator on an existing shard.
func checkSelection(st *state.Store, ids []string, loc *command.Locator) error {
	if len(ids) > 0 && !slices.ContainsFunc(ids, func(id string) bool { return st.Job(id) != nil }) {
		return JobNotFound(st, ids[0])
	}
	switch {
	case loc == nil && len(ids) == 0:
		return invalid("ids", "name jobs by ids or by a shard locator")
	case loc == nil:
		return nil
	case len(ids) > 0:
		return invalid("ids", "select jobs by ids or by a shard locator, not both")
	}
	if err := requireShard(st, "shard", loc.Shard); err != nil {
		return err
	}
	if loc.Tail <= 0 {
		return invalid("tail", "tail must be positive")
	}
	return validate.NonNegative("offset", loc.Offset)
}

// ---- operator

// Pause pauses or resumes dispatching, system-wide or for one shard
// (pause).
func (s *Server) Pause(ctx context.Context, a Actor, req command.Pause) (Result, error) {
	return s.call(ctx, a, epPause, req.Meta.Reason, &req)
}

var epPause = row("pause", command.PauseType, CapManage,
	func(_ *Server, st *state.Store, c *command.Pause) error {
		if c.Shard == "" {
			return nil
		}
		return requireShard(st, "shard", c.Shard)
	})

// ConfigureCheckpoint retargets the checkpoint cadence and path
// (checkpoint.configure).
func (s *Server) ConfigureCheckpoint(ctx context.Context, a Actor, req command.CheckpointConfigure) (Result, error) {
	return s.call(ctx, a, epConfigureCheckpoint, req.Meta.Reason, &req)
}

var epConfigureCheckpoint = row("checkpoint.configure", command.CheckpointConfigureType, CapManage,
	func(s *Server, _ *state.Store, c *command.CheckpointConfigure) error {
		if err := validate.CheckpointInterval(c.IntervalMs); err != nil {
			return err
		}
		if c.IntervalMs == 0 && c.Path == "" {
			return invalid("", "set interval_ms or path")
		}
		return s.checkPathField(c.Path, "path")
	})

// ConfigureReporting retargets report output (reporting.configure).
func (s *Server) ConfigureReporting(ctx context.Context, a Actor, req command.ReportingConfigure) (Result, error) {
	return s.call(ctx, a, epConfigureReporting, req.Meta.Reason, &req)
}

var epConfigureReporting = row("reporting.configure", command.ReportingConfigureType, CapManage,
	func(s *Server, _ *state.Store, c *command.ReportingConfigure) error {
		if c.Dir == "" && c.Label == "" {
			return invalid("", "set dir or label")
		}
		if c.Label != "" {
			if err := validate.ReportingLabel(c.Label); err != nil {
				return err
			}
		}
		return s.checkPathField(c.Dir, "dir")
	})

// SaveCheckpoint takes a checkpoint now and exports it to the configured
// path (checkpoint.save).
func (s *Server) SaveCheckpoint(ctx context.Context, a Actor) (si SnapshotInfo, err error) {
	err = s.run(a, epSaveCheckpoint, func(st *state.Store) error { return epSaveCheckpoint.check(s, st, &command.CheckpointSaved{}) },
		func() error {
			si, err = s.Checkpoint(ctx)
			return err
		})
	return si, err
}

var epSaveCheckpoint = row("checkpoint.save", command.CheckpointSavedType, CapManage,
	func(s *Server, st *state.Store, _ *command.CheckpointSaved) error {
		path := st.Policy().CheckpointPath
		if path == "" {
			return invalid("path", "no checkpoint path configured")
		}
		return s.checkPathField(path, "path")
	})

// checkPathField refuses a path outside the allowed roots, naming the
// field and the path; an empty path is not checked.
func (s *Server) checkPathField(path, field string) error {
	if path == "" {
		return nil
	}
	if err := s.CheckPath(path); err != nil {
		kind := Forbidden
		if !errors.Is(err, ErrPathNotAllowed) {
			kind = Invalid
		}
		return &RequestError{Kind: kind, Field: field, Path: path, Msg: fmt.Sprintf("path %q refused: %v", path, err)}
	}
	return nil
}

// ---- mission

// PathField is a path a mission writes to and the field that names it.
type PathField struct {
	Field, Path string
}

// ApplyMission installs or updates the mission (mission.apply). Every path
// it writes to (paths) must fall under the allowed roots. A mission whose
// digest is the applied one changes nothing: Result.Index is 0.
func (s *Server) ApplyMission(ctx context.Context, a Actor, req command.MissionApply, paths []PathField) (Result, error) {
	same := false
	s.fsm.Read(func(st *state.Store) { same = st.Policy().MissionDigest == req.Digest })
	if same {
		return Result{}, s.run(a, epApplyMission, func(*state.Store) error { return checkPaths(s, paths) }, func() error { return nil })
	}
	ep := *epApplyMission
	ep.check = func(s *Server, _ *state.Store, _ command.Command) error { return checkPaths(s, paths) }
	return s.call(ctx, a, &ep, req.Meta.Reason, &req)
}

var epApplyMission = row("mission.apply", command.MissionApplyType, CapManage,
	func(*Server, *state.Store, *command.MissionApply) error { return nil })

func checkPaths(s *Server, paths []PathField) error {
	for _, p := range paths {
		if err := s.checkPathField(p.Path, p.Field); err != nil {
			return err
		}
	}
	return nil
}

// ---- ACL and client identities

// BootstrapACL stores the first management token (acl.bootstrap); its
// CreatedAt is stamped here.
func (s *Server) BootstrapACL(ctx context.Context, a Actor, tok state.Token) (state.Token, Result, error) {
	tok.CreatedAt = s.Now()
	res, err := s.call(ctx, a, epBootstrapACL, "", &command.ACLBootstrap{Time: tok.CreatedAt, Token: tok})
	return tok, res, err
}

var epBootstrapACL = row("acl.bootstrap", command.ACLBootstrapType, 0,
	func(_ *Server, st *state.Store, _ *command.ACLBootstrap) error {
		if st.ACLBootstrapped() {
			return refusal(Conflict, "", "ACL already bootstrapped")
		}
		return nil
	})

// CreateToken stores a new ACL token (acl.token_create); its CreatedAt is
// stamped here.
func (s *Server) CreateToken(ctx context.Context, a Actor, tok state.Token) (state.Token, Result, error) {
	tok.CreatedAt = s.Now()
	res, err := s.call(ctx, a, epCreateToken, "", &command.ACLTokenCreate{Token: tok})
	return tok, res, err
}

var epCreateToken = row("acl.token_create", command.ACLTokenCreateType, CapManage,
	func(_ *Server, _ *state.Store, c *command.ACLTokenCreate) error {
		return validate.Required("name", c.Token.Name, "token name")
	})

// ValidClientName refuses a client name that is empty or holds a space or
// a slash.
func ValidClientName(name string) error {
	if name == "" {
		return invalid("client", "client is required")
	}
	if strings.ContainsAny(name, " \t\r\n/") {
		return invalid("client", "client name %q holds a space or a slash", name)
	}
	return nil
}

// JoinClient stores the identity issued to a client agent (client.join).
func (s *Server) JoinClient(ctx context.Context, a Actor, tok state.Token) (state.Token, Result, error) {
	tok.CreatedAt = s.Now()
	res, err := s.call(ctx, a, epJoinClient, "client join", &command.ClientJoin{Token: tok})
	return tok, res, err
}

var epJoinClient = row("client.join", command.ClientJoinType, CapManage|CapJoin,
	func(_ *Server, st *state.Store, c *command.ClientJoin) error {
		name := c.Token.Name
		if err := ValidClientName(name); err != nil {
			return err
		}
		old, joined := st.ClientIdentity(name)
		switch {
		case !joined:
			return nil
		case old.RevokedAt != 0:
			return refusal(Forbidden, "client",
				"client %s was revoked and cannot join again; start the host under another agent name", name)
		}
		return refusal(Conflict, "client", "client %s already holds an identity (accessor %s), kept in that host's data dir (%s); "+
			"a host that lost it joins under another agent name, and `planetary acl client revoke %s` retires the old one",
			name, old.AccessorID, client.IdentityFile, name)
	})

// RevokeClient revokes a client agent's identity (client.revoke).
func (s *Server) RevokeClient(ctx context.Context, a Actor, req command.ClientRevoke) (Result, error) {
	return s.call(ctx, a, epRevokeClient, req.Meta.Reason, &req)
}

var epRevokeClient = row("client.revoke", command.ClientRevokeType, CapManage,
	func(_ *Server, st *state.Store, c *command.ClientRevoke) error {
		old, joined := st.ClientIdentity(c.Client)
		switch {
		case !joined:
			return refusal(NotFound, "", "client %s holds no identity", c.Client)
		case old.RevokedAt != 0:
			return refusal(Conflict, "", "client %s is already revoked", c.Client)
		}
		return nil
	})
