package mission

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/planetary/planetary/raftfsm/command"
)

// AttrType is the type of an attribute as the user writes it.
type AttrType string

// Attribute types.
const (
	TypeString   AttrType = "string"
	TypeInt      AttrType = "integer"
	TypeFloat    AttrType = "number"
	TypeBool     AttrType = "bool"
	TypeStrings  AttrType = "list(string)"
	TypeDuration AttrType = "duration" // a string such as "900ms", "30s", "2m"
	TypeCredits  AttrType = "credits"  // a decimal number of credits, stored as micro-credits
	TypeObject   AttrType = "object"   // a free-form object of constants
)

// AttrDoc declares one attribute: the decoder and the reference read it.
type AttrDoc struct {
	Name     string
	Type     AttrType
	Required bool
	// Default is the Go value used when the attribute is absent: string,
	// int64, float64, bool or []string (durations are strings).
	Default any
	// DefaultText overrides how the default is documented (e.g. "capacity").
	DefaultText string
	Description string
	Example     string
}

// DefaultString is the default as the reference shows it.
func (a AttrDoc) DefaultString() string {
	if a.DefaultText != "" {
		return a.DefaultText
	}
	switch v := a.Default.(type) {
	case nil:
		return ""
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}

// BlockDoc declares one block type.
type BlockDoc struct {
	Name        string
	Labels      []string // label names, e.g. ["name"]
	Description string
	Repeatable  bool // may appear more than once in its parent
	Required    bool
	FreeForm    bool // attributes are free-form constants (plugin config)
	Attributes  []AttrDoc
	Blocks      []BlockDoc
	// Actions lists the schedule actions and their arguments (schedule only).
	Actions []ActionDoc
	// File is the file kind the block belongs to: "agent", "mission" or "job".
	File string
}

// ActionDoc declares a schedule action and its arguments.
type ActionDoc struct {
	Name        string
	Description string
	Attributes  []AttrDoc
	Blocks      []BlockDoc
	// OneOf lists attribute groups of which at least one must be set.
	OneOf []string
}

func (b *BlockDoc) attr(name string) *AttrDoc {
	for i := range b.Attributes {
		if b.Attributes[i].Name == name {
			return &b.Attributes[i]
		}
	}
	return nil
}

func (b *BlockDoc) block(name string) *BlockDoc {
	for i := range b.Blocks {
		if b.Blocks[i].Name == name {
			return &b.Blocks[i]
		}
	}
	panic(fmt.Sprintf("mission: block %q declares no nested block %q", b.Name, name))
}

// bodySchema builds the hcl.BodySchema of the block's body.
func (b *BlockDoc) bodySchema() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range b.Attributes {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, c := range b.Blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: c.Name, LabelNames: c.Labels})
	}
	return s
}

// Reference returns the documentation of every block, in the order a file
// is usually written. It is built from the same tables the decoder uses.
func Reference() []BlockDoc {
	return append(agentFileDocs(), append(missionFileDocs(), jobFileDocs()...)...)
}

// ActionReference returns the schedule actions and their arguments.
func ActionReference() []ActionDoc { return actionDocs() }

func agentFileDocs() []BlockDoc {
	return []BlockDoc{
		{
			Name: "agent", File: "agent", Description: "Per-host settings of `planetary agent`.",
			Attributes: []AttrDoc{
				{Name: "name", Type: TypeString, Default: "planetary", Description: "Client name of this host.", Example: `"dev"`},
				{Name: "data_dir", Type: TypeString, Default: "data", Description: "Raft log, snapshots and plugin files.", Example: `"/var/lib/planetary"`},
				{Name: "log_level", Type: TypeString, Default: "info", Description: "trace, debug, info, warn or error.", Example: `"debug"`},
				{Name: "log_json", Type: TypeBool, Default: false, Description: "Log JSON lines instead of text."},
				{Name: "http_addr", Type: TypeString, Default: "127.0.0.1:4646", Description: "HTTP API listen address.", Example: `"0.0.0.0:4646"`},
				{Name: "allowed_roots", Type: TypeStrings, Default: []string{"reports", "checkpoints"}, Description: "Directories under which owner commands may write checkpoints and reports; a relative one lies under data_dir."},
			},
			Blocks: []BlockDoc{
				{
					Name: "server", Description: "The server role: a raft member with the FSM and API.",
					Attributes: []AttrDoc{
						{Name: "enabled", Type: TypeBool, Default: true, Description: "Run the server role."},
						{Name: "bind", Type: TypeString, Default: "127.0.0.1:4647", Description: "Raft transport address."},
						{Name: "bootstrap_expect", Type: TypeInt, Default: int64(1), Description: "Servers to wait for before bootstrapping."},
						{Name: "join", Type: TypeStrings, Default: []string{}, Description: "HTTP API addresses of other servers to form or join a cluster with."},
						{Name: "snapshot_threshold", Type: TypeInt, Default: int64(512), Description: "Raft log entries since the last snapshot that make raft take a new one (bounds raft.db)."},
						{Name: "trailing_logs", Type: TypeInt, Default: int64(128), Description: "Raft log entries kept behind a snapshot, so a slightly lagging follower catches up without a snapshot install."},
						{Name: "snapshot_interval", Type: TypeDuration, Default: "30s", Description: "How often raft checks snapshot_threshold (randomised between this and twice this)."},
						{Name: "region", Type: TypeString, Default: "", DefaultText: "every region", Description: "The mission region this server's raft group holds: it applies only that region's part of the mission (its shards, nodes, workloads and schedule entries). Unset: one raft group holds the whole mission.", Example: `"mars"`},
					},
				},
				{
					Name: "event_retention", Description: "Bounds the event log in the data dir. Closed segments are pruned oldest first, and only once a durable raft snapshot covers every event in them; the chain anchor at the new start is kept so the retained events still verify. Without this block every event is kept.",
					Attributes: []AttrDoc{
						{Name: "max_age", Type: TypeDuration, Default: "0s", Description: "Prune segments last written longer ago than this (0s: no age limit).", Example: `"168h"`},
						{Name: "max_bytes", Type: TypeInt, Default: int64(0), Description: "Prune the oldest segments while the event log is larger than this many bytes (0: no size limit).", Example: "10737418240"},
						{Name: "archive_dir", Type: TypeString, Default: "", Description: "Archive each pruned segment here gzip-compressed (events-<seq>.ndjson.gz) instead of only deleting it; must lie under allowed_roots.", Example: `"checkpoints/events"`},
						{Name: "segment_bytes", Type: TypeInt, Default: int64(64 << 20), Description: "Size at which the event log starts a new segment; retention prunes whole segments."},
					},
				},
				{
					Name: "client", Description: "The client role: hosts plugin processes for mission nodes.",
					Attributes: []AttrDoc{
						{Name: "enabled", Type: TypeBool, Default: true, Description: "Run the client role."},
						{Name: "servers", Type: TypeStrings, Default: []string{}, DefaultText: "[http_addr]", Description: "HTTP addresses of servers."},
						{Name: "nodes", Type: TypeStrings, Default: []string{"*"}, Description: "Glob patterns of mission node ids this host serves."},
						{Name: "heartbeat_interval", Type: TypeDuration, Default: "1s", Description: "How often node heartbeats are sent."},
					},
				},
				{
					Name: "acl", Description: "Token checks on the HTTP API.",
					Attributes: []AttrDoc{{Name: "enabled", Type: TypeBool, Default: true, Description: "Require tokens."}},
				},
				{
					Name: "tls", Description: "mTLS between clients and servers, on when all three files are set.",
					Attributes: []AttrDoc{
						{Name: "ca_file", Type: TypeString, Default: "", Description: "CA certificate (PEM)."},
						{Name: "cert_file", Type: TypeString, Default: "", Description: "Certificate (PEM)."},
						{Name: "key_file", Type: TypeString, Default: "", Description: "Private key (PEM)."},
					},
				},
			},
		},
		{
			Name: "plugin", Labels: []string{"name"}, Repeatable: true, File: "agent",
			Description: "A plugin the client may launch. Without path it is built in (sim, exec, gpu, inference, compliance, container).",
			Attributes: []AttrDoc{
				{Name: "path", Type: TypeString, Default: "", Description: "Executable of an external plugin.", Example: `"./bin/geo-agent"`},
				{Name: "sha256", Type: TypeString, Default: "", Description: "Hex SHA-256 the executable must have; required with path."},
			},
			Blocks: []BlockDoc{configDoc("Plugin settings, checked against the schema the plugin declares.")},
		},
	}
}

func configDoc(desc string) BlockDoc {
	return BlockDoc{Name: "config", FreeForm: true, Description: desc + " Values are constants: string, number, bool or list of strings."}
}

func shardDoc() BlockDoc {
	return BlockDoc{
		Name: "shard", Labels: []string{"name"}, Repeatable: true, File: "mission",
		Description: "A regional job registry and its router policy.",
		Attributes: []AttrDoc{
			{Name: "display_name", Type: TypeString, Default: "", Description: "Human name.", Example: `"Earth Hypergrid"`},
			{Name: "region", Type: TypeString, Default: "", DefaultText: "the shard name", Description: "The region the shard belongs to: shards that name one region form it, with the nodes of those shards. A region host (docs/architecture.md, Regions) runs each region as its own raft group, with its own nodes, queues, event chain and ledger, and hands it the mission's part that concerns it; spillover targets and schedule entries that route work into a shard of another region are kept aside as remote routes and not taken. A shard that a shard.register entry brings in joins the region it names when a declared shard names it too, else the first declared region. A single agent holds every region in its one raft group."},
			{Name: "latency_budget_ms", Type: TypeInt, Default: int64(0), Description: "Latency budget of the shard's jobs: nodes slower than this are not used, and a job whose estimated wait here exceeds it spills to a target that can start it within it (0: no limit, no such spill)."},
			{Name: "max_queue", Type: TypeInt, Default: int64(0), Description: "Queue bound (0: unbounded)."},
			{Name: "queue_alert_threshold", Type: TypeInt, Default: int64(0), Description: "Queue depth that raises an alert event."},
			{Name: "spillover_targets", Type: TypeStrings, Default: []string{}, Description: "Shards this one may spill to, in order; \"*\" stands for every other shard, by name. With none (and no spillover blocks) the shard never spills."},
			{Name: "spill_grace", Type: TypeDuration, DefaultText: "twice the servers' heartbeat TTL (30s)", Description: "A job whose shard's capable nodes went down less than this long ago waits for them instead of spilling."},
		},
		Blocks: []BlockDoc{spilloverDoc()},
	}
}

func spilloverDoc() BlockDoc {
	return BlockDoc{
		Name: "spillover", Labels: []string{"target"}, Repeatable: true,
		Description: "Drain policy toward one target shard.",
		Attributes: []AttrDoc{
			{Name: "threshold", Type: TypeInt, Default: int64(0), Description: "Queue depth above which jobs drain (0: only jobs nothing here can take)."},
			{Name: "max_drain", Type: TypeInt, Default: int64(0), Description: "Jobs drained per router round."},
			{Name: "required_capabilities", Type: TypeStrings, Default: []string{}, Description: "Only jobs needing all of these drain."},
			{Name: "weight", Type: TypeInt, Default: int64(1), Description: "Relative preference among targets."},
		},
	}
}

func priceDoc() BlockDoc {
	return BlockDoc{
		Name: "price", Description: "Price schedule: base + sum(rate * units) [+ expr], in credits.",
		Attributes: []AttrDoc{
			{Name: "currency", Type: TypeString, Default: "", Description: "Currency label; when given it must be the mission's currency, which an omitted one takes."},
			{Name: "unit", Type: TypeString, Default: "job", Description: "What base is charged per."},
			{Name: "base", Type: TypeCredits, Default: float64(0), Description: "Base price in credits.", Example: "1.75"},
			{Name: "expr", Type: TypeString, Default: "", Description: "Optional CEL over job attributes giving extra micro-credits."},
		},
		Blocks: []BlockDoc{{
			Name: "rate", Labels: []string{"unit"}, Repeatable: true, Description: "A per-unit rate (gpu_second, token, second, a capability...).",
			Attributes: []AttrDoc{{Name: "per_unit", Type: TypeCredits, Required: true, Description: "Credits per unit.", Example: "0.002"}},
		}},
	}
}

func attestationsDoc() BlockDoc {
	return BlockDoc{
		Name: "attestations", Description: "Compliance envelope, visible to the compliance policy as node.attestations.",
		Attributes: []AttrDoc{
			{Name: "certifications", Type: TypeStrings, Default: []string{}, Description: "Certifications held.", Example: `["SOC2-Type-II"]`},
			{Name: "jurisdiction", Type: TypeString, Default: "", Description: "Legal jurisdiction."},
			{Name: "data_residency", Type: TypeStrings, Default: []string{}, Description: "Where data may rest."},
			{Name: "tags", Type: TypeStrings, Default: []string{}, Description: "Free tags."},
		},
	}
}

func deploymentDoc() BlockDoc {
	return BlockDoc{
		Name: "deployment", Description: "How the node is deployed (informational; reported and attested).",
		Attributes: []AttrDoc{
			{Name: "orchestration", Type: TypeString, Default: "", Example: `"kubernetes"`, Description: "Orchestrator."},
			{Name: "image", Type: TypeString, Default: "", Description: "Container image."},
			{Name: "runtime", Type: TypeString, Default: "", Description: "Runtime."},
			{Name: "entrypoint", Type: TypeString, Default: "", Description: "Entrypoint."},
			{Name: "version", Type: TypeString, Default: "", Description: "Version."},
			{Name: "zones", Type: TypeStrings, Default: []string{}, Description: "Availability zones."},
		},
		Blocks: []BlockDoc{{
			Name: "resources", Description: "Resources offered.",
			Attributes: []AttrDoc{
				{Name: "cpu_cores", Type: TypeFloat, Default: float64(0), Description: "CPU cores."},
				{Name: "memory_gb", Type: TypeFloat, Default: float64(0), Description: "Memory in GB."},
				{Name: "gpu_class", Type: TypeString, Default: "", Description: "GPU model.", Example: `"H100"`},
				{Name: "gpus", Type: TypeInt, Default: int64(0), Description: "GPU count."},
				{Name: "storage_gb", Type: TypeFloat, Default: float64(0), Description: "Storage in GB."},
			},
		}},
	}
}

func nodeDoc() BlockDoc {
	return BlockDoc{
		Name: "node", Labels: []string{"id"}, Repeatable: true, File: "mission",
		Description: "An agent node: a plugin instance placed in a shard.",
		Attributes: []AttrDoc{
			{Name: "shard", Type: TypeString, Required: true, Description: "Shard the node serves.", Example: `"mars"`},
			{Name: "plugin", Type: TypeString, Default: "sim", Description: "Plugin kind that executes its jobs: a job of a `kind` is placed only on nodes of that kind (see docs/scheduler.md)."},
			{Name: "capabilities", Type: TypeStrings, Default: []string{}, Description: "What jobs it can take.", Example: `["gpu", "vision"]`},
			{Name: "capacity", Type: TypeInt, Required: true, Description: "Jobs it can hold at once."},
			{Name: "max_concurrency", Type: TypeInt, Default: int64(0), DefaultText: "capacity", Description: "Jobs it runs at once; its client queues the rest of what it holds, in order."},
			{Name: "quota", Type: TypeInt, Default: int64(0), Description: "Jobs it may complete in total (0: unlimited)."},
			{Name: "latency_ms", Type: TypeInt, Default: int64(0), Description: "Declared latency, checked against the shard budget."},
			{Name: "heartbeat_sec", Type: TypeInt, Default: int64(10), Description: "Heartbeat TTL in seconds."},
			{Name: "endpoint", Type: TypeString, Default: "", Description: "Informational endpoint URL."},
			{Name: "labels", Type: TypeStrings, Default: []string{}, Description: "Free labels."},
		},
		Blocks: []BlockDoc{deploymentDoc(), priceDoc(), attestationsDoc(), configDoc("Plugin config for this node.")},
	}
}

func checkpointAttrs() []AttrDoc {
	return []AttrDoc{
		{Name: "interval", Type: TypeDuration, Default: "30s", Description: "Snapshot cadence on the mission clock."},
		{Name: "path", Type: TypeString, Default: "checkpoints/fabric.snap", Description: "Export path; must fall under an allowed root. A relative path lies under the agent's data dir."},
	}
}

func reportingAttrs() []AttrDoc {
	return []AttrDoc{
		{Name: "directory", Type: TypeString, Default: "reports", Description: "Report directory; must fall under an allowed root. A relative one lies under the data dir of the agent `planetary run` starts (with -address: the working directory of the CLI, which writes the bundle)."},
		{Name: "label", Type: TypeString, Default: "", DefaultText: "the mission name", Description: "Report label."},
	}
}

func missionFileDocs() []BlockDoc {
	return []BlockDoc{
		{
			Name: "mission", Labels: []string{"name"}, File: "mission",
			Description: "Names the mission; required in a mission file.",
			Attributes: []AttrDoc{
				{Name: "seed", Type: TypeInt, Default: int64(0), Description: "Seed for every deterministic choice."},
				{Name: "owner", Type: TypeString, Default: "", Description: "Who owns the fabric."},
				{Name: "description", Type: TypeString, Default: "", Description: "Free text."},
				{Name: "currency", Type: TypeString, Default: DefaultCurrency, Description: "The one currency label of every price, value and payment in the fabric (money is one unit: credits, whatever its label)."},
				{Name: "max_attempts", Type: TypeInt, Default: int64(0), DefaultText: "5",
					Description: "Attempts a job gets (1-100) when its submit names none: after the last, a retryable failure or the loss of its node fails it with the last error."},
			},
		},
		shardDoc(),
		nodeDoc(),
		{
			Name: "compliance", File: "mission", Description: "Placement policy in CEL over node.attestations and job; compiled by the scheduler.",
			Attributes: []AttrDoc{{Name: "policy", Type: TypeString, Required: true, Description: "CEL expression that must be true to place a job on a node.",
				Example: `"!('gpu' in job.capabilities) || 'SOC2-Type-II' in node.attestations.certifications"`}},
		},
		{Name: "checkpoint", File: "mission", Description: "Checkpoint policy.", Attributes: checkpointAttrs()},
		{Name: "reporting", File: "mission", Description: "Report output.", Attributes: reportingAttrs()},
		{
			Name: "retention", File: "mission", Description: "Garbage collection of finished jobs by the leader (docs/retention.md).",
			Attributes: []AttrDoc{
				{Name: "job_gc_threshold", Type: TypeDuration, Default: "1h", Description: "A completed, failed or cancelled job is collected once it finished this long ago on the mission clock."},
				{Name: "job_gc_interval", Type: TypeDuration, Default: "1m", Description: "How often the leader looks for jobs to collect; \"0s\" turns the periodic pass off (`planetary operator gc` still runs one)."},
				{Name: "job_gc_batch", Type: TypeInt, Default: int64(1000), Description: "Most jobs collected by one raft entry (1 to 100000)."},
				{Name: "idempotency_window", Type: TypeDuration, Default: "24h", Description: "How long a collected job's id and idempotency key stay taken after its collection: a resubmit inside it is a duplicate of the collected job."},
			},
		},
		{
			Name: "workload", Labels: []string{"name"}, Repeatable: true, File: "mission",
			Description: "A job blueprint that `planetary run` submits: count jobs of one class.",
			Attributes: []AttrDoc{
				{Name: "shard", Type: TypeString, Required: true, Description: "Shard the jobs are submitted to."},
				{Name: "count", Type: TypeInt, Required: true, Description: "Jobs in the blueprint."},
				{Name: "id_prefix", Type: TypeString, Default: "", DefaultText: "the workload name", Description: "Job ids are <id_prefix>-<n>, zero-padded."},
				{Name: "capabilities", Type: TypeStrings, Default: []string{}, Description: "Capabilities every job needs."},
				{Name: "priority", Type: TypeInt, Default: int64(0), Description: "Higher runs first."},
				{Name: "value", Type: TypeCredits, Default: float64(0), Description: "Value of the first job in credits."},
				{Name: "value_step", Type: TypeCredits, Default: float64(0), Description: "Added to the value for each further job."},
				{Name: "max_price", Type: TypeCredits, Default: float64(0), Description: "Most a job may pay (0: no limit)."},
				{Name: "units", Type: TypeObject, Description: "Units the job expects per metered dimension, e.g. `{ token = 800 }`: a node's rate for a declared dimension is quoted for these units, and the job settles for the units its plugin reports, capped at the quote and at max_price (see docs/pricing.md).", Example: `{ token = 800, gpu_second = 12.5 }`},
				{Name: "kind", Type: TypeString, Default: "", DefaultText: "none: any plugin offering the capabilities", Description: "Plugin kind that must run the job (a node's `plugin`); the scheduler places it only on nodes of that kind, and parks it, naming the kind, when none has the capabilities."},
				{Name: "duration_ms", Type: TypeInt, Default: int64(0), Description: "Simulated run time, put in the payload as duration_ms."},
				{Name: "payload", Type: TypeObject, Description: "Object sent to the plugin as JSON."},
				{Name: "note", Type: TypeString, Default: "", Description: "Free text."},
			},
		},
		{
			Name: "schedule", Labels: []string{"id"}, Repeatable: true, File: "mission",
			Description: "An owner command fired once on the mission clock (at) or after a number of completed jobs.",
			Attributes: []AttrDoc{
				{Name: "at", Type: TypeDuration, DefaultText: "one of at, after_completed", Description: "Mission-clock offset.", Example: `"900ms"`},
				{Name: "after_completed", Type: TypeInt, DefaultText: "one of at, after_completed", Description: "Fire once this many jobs completed."},
				{Name: "note", Type: TypeString, Default: "", Description: "Free text."},
				{Name: "reason", Type: TypeString, Default: "", Description: "Recorded with the command."},
				{Name: "action", Type: TypeString, Required: true, Description: "Owner command; its arguments follow as attributes or one block.", Example: `"shard.pause"`},
			},
			Actions: actionDocs(),
		},
		{
			Name: "plan", File: "mission", Description: "Run directives for `planetary run`; flags override them.",
			Attributes: []AttrDoc{
				{Name: "jobs", Type: TypeInt, Default: int64(0), DefaultText: "the blueprint count", Description: "Scale the workloads to this many jobs."},
				{Name: "outage_node", Type: TypeString, Default: "", Description: "Node to take down during the run."},
				{Name: "outage_at", Type: TypeDuration, Default: "0s", Description: "When the outage starts."},
				{Name: "stop_after", Type: TypeString, Default: "", Description: `Stop early: a duration ("2.4s") or a share of jobs completed ("30%").`},
				{Name: "label", Type: TypeString, Default: "", Description: "Report label of the run."},
				{Name: "deadline", Type: TypeDuration, Default: "0s", Description: "Give up after this long (0: none)."},
			},
		},
	}
}

func jobFileDocs() []BlockDoc {
	return []BlockDoc{{
		Name: "job", Labels: []string{"id"}, Repeatable: true, File: "job",
		Description: "One job to submit with `planetary job submit`.",
		Attributes: []AttrDoc{
			{Name: "shard", Type: TypeString, Required: true, Description: "Shard to submit to."},
			{Name: "capabilities", Type: TypeStrings, Default: []string{}, Description: "Capabilities it needs."},
			{Name: "priority", Type: TypeInt, Default: int64(0), Description: "Higher runs first."},
			{Name: "value", Type: TypeCredits, Default: float64(0), Description: "Value in credits."},
			{Name: "max_price", Type: TypeCredits, Default: float64(0), Description: "Most it may pay (0: no limit)."},
			{Name: "units", Type: TypeObject, Description: "Units the job expects per metered dimension, e.g. `{ token = 800 }`: a node's rate for a declared dimension is quoted for these units, and the job settles for the units its plugin reports, capped at the quote and at max_price (see docs/pricing.md).", Example: `{ token = 800, gpu_second = 12.5 }`},
			{Name: "kind", Type: TypeString, Default: "", DefaultText: "none: any plugin offering the capabilities", Description: "Plugin kind that must run the job (a node's `plugin`); the scheduler places it only on nodes of that kind, and parks it, naming the kind, when none has the capabilities."},
			{Name: "payload", Type: TypeObject, Description: "Object sent to the plugin as JSON.", Example: `{ command = "echo", args = ["hi"] }`},
			{Name: "key", Type: TypeString, Default: "", Description: "Idempotency key (empty: none)."},
		},
	}}
}

func idAttr(name, desc string) AttrDoc {
	return AttrDoc{Name: name, Type: TypeString, Required: true, Description: desc}
}

func locatorAttrs() []AttrDoc {
	return []AttrDoc{
		{Name: "ids", Type: TypeStrings, Default: []string{}, Description: "Job ids."},
		{Name: "shard", Type: TypeString, Default: "", Description: "Locator: shard whose queue tail is picked."},
		{Name: "tail", Type: TypeInt, Default: int64(1), Description: "Locator: jobs picked from the tail."},
		{Name: "offset", Type: TypeInt, Default: int64(0), Description: "Locator: jobs skipped from the tail first."},
		{Name: "in_flight", Type: TypeBool, Default: false, Description: "Locator: include assigned and running jobs."},
	}
}

func actionDocs() []ActionDoc {
	shard := shardDoc()
	shard.Repeatable = false
	shard.Required = true
	shard.File = ""
	node := nodeDoc()
	node.Repeatable = false
	node.Required = true
	node.File = ""
	return append([]ActionDoc{
		{Name: ActSystemPause, Description: "Pause dispatching everywhere."},
		{Name: ActSystemResume, Description: "Resume dispatching everywhere."},
		{Name: ActShardPause, Description: "Pause one shard.", Attributes: []AttrDoc{idAttr("shard", "Shard to pause.")}},
		{Name: ActShardResume, Description: "Resume one shard.", Attributes: []AttrDoc{idAttr("shard", "Shard to resume.")}},
		{Name: ActShardRegister, Description: "Add a shard, given as a nested shard block.", Blocks: []BlockDoc{shard}},
		{Name: ActShardDeregister, Description: "Remove a shard; its jobs spill to target or are cancelled.", Attributes: []AttrDoc{
			idAttr("shard", "Shard to remove."),
			{Name: "mode", Type: TypeString, Default: "spillover", Description: `"spillover" or "cancel".`},
			{Name: "target", Type: TypeString, Default: "", Description: "Shard that receives the jobs (mode spillover)."},
		}},
		{Name: ActShardUpdate, Description: "Retune a shard; only the given fields change.", Attributes: append([]AttrDoc{idAttr("shard", "Shard to update.")}, shardUpdateAttrs()...),
			Blocks: []BlockDoc{spilloverDoc()}},
		{Name: ActNodeRegister, Description: "Add a node, given as a nested node block.", Blocks: []BlockDoc{node}},
		{Name: ActNodeRetire, Description: "Drain a node.", Attributes: []AttrDoc{
			idAttr("node", "Node to retire."),
			{Name: "requeue", Type: TypeBool, Default: false, Description: "Requeue its running jobs at once."},
		}},
		{Name: ActNodeUpdate, Description: "Change a node; only the given fields change.", Attributes: append([]AttrDoc{idAttr("node", "Node to update.")}, nodeUpdateAttrs()...),
			Blocks: []BlockDoc{priceDoc(), attestationsDoc(), deploymentDoc()}},
		{Name: ActJobCancel, Description: "Cancel jobs by ids or by locator.", Attributes: locatorAttrs(), OneOf: []string{"ids", "shard"}},
		{Name: ActJobReroute, Description: "Move jobs (ids or locator) to another shard.",
			Attributes: append(locatorAttrs(), idAttr("target", "Shard the jobs move to.")), OneOf: []string{"ids", "shard"}},
		{Name: ActCheckpointSave, Description: "Take and export a checkpoint now."},
		{Name: ActCheckpointConfigure, Description: "Change checkpoint cadence or path.", Attributes: optional(checkpointAttrs()), OneOf: []string{"interval", "path"}},
		{Name: ActReportingConfigure, Description: "Change report directory or label.", Attributes: optional(reportingAttrs()), OneOf: []string{"directory", "label"}},
	}, describedDocs()...)
}

// optional strips defaults: an owner update changes only what it names.
func optional(as []AttrDoc) []AttrDoc {
	out := make([]AttrDoc, len(as))
	for i, a := range as {
		a.Default, a.DefaultText = nil, "unchanged"
		out[i] = a
	}
	return out
}

func shardUpdateAttrs() []AttrDoc {
	var out []AttrDoc
	for _, a := range shardDoc().Attributes {
		if a.Name != "region" {
			out = append(out, a)
		}
	}
	return optional(out)
}

func nodeUpdateAttrs() []AttrDoc {
	var out []AttrDoc
	for _, a := range nodeDoc().Attributes {
		if slices.Contains(command.NodeOwnerFields, a.Name) {
			a.Required = false
			out = append(out, a)
		}
	}
	return optional(out)
}
