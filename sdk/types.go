package sdk

// Info describes an agent plugin.
type Info struct {
	Name        string
	Version     string
	Description string
	// APIVersions lists the sdk API versions the agent supports; the host
	// picks the highest one it also supports.
	APIVersions []string
	// Implements lists the optional interfaces the agent implements
	// (CapFingerprint, ...). The SDK fills it; authors leave it empty.
	Implements []string
}

// AttributeType is the type of a config attribute.
type AttributeType string

const (
	TypeString     AttributeType = "string"
	TypeNumber     AttributeType = "number"
	TypeBool       AttributeType = "bool"
	TypeStringList AttributeType = "list(string)"
)

// Attribute is one attribute of an agent's config schema.
type Attribute struct {
	Name        string
	Type        AttributeType
	Required    bool
	Default     any
	Description string
}

// Schema is the config schema an agent declares.
type Schema struct {
	Attributes []Attribute
}

// NodeInfo tells an agent which node it serves.
type NodeInfo struct {
	ID      string
	Shard   string
	DataDir string // a directory the agent may use for its own files
	Seed    uint64 // the mission seed, for deterministic simulations
}

// Config is what Configure receives: constant values checked against Schema.
// Values hold string, float64, bool or []string.
type Config struct {
	Node   NodeInfo
	Values map[string]any
}

// Fingerprint is what a node offers right now.
type Fingerprint struct {
	Capabilities []string
	Resources    Resources
	Runtime      string // e.g. "podman 4.3.1"
	Images       []string
	Healthy      bool
	Message      string // plain words, e.g. "no GPUs found (nvidia-smi not on PATH)"
}

// Resources a node offers.
type Resources struct {
	CPUCores  float64
	MemoryGB  float64
	GPUs      int64
	GPUClass  string
	StorageGB float64
}

// PriceRate is a per-unit rate in micro-credits (1 credit = 1,000,000).
type PriceRate struct {
	Unit      string // "gpu_second", "token", "second", a capability, ...
	PerUnitMu int64
}

// PriceSchedule prices a job: BaseMu + sum(rate * units), plus Expr (CEL over
// job attributes, evaluating to micro-credits) when set.
type PriceSchedule struct {
	Currency string
	BaseMu   int64
	Rates    []PriceRate
	Expr     string
}

// Attestations are a node's compliance envelope.
type Attestations struct {
	Certifications []string
	Jurisdiction   string
	DataResidency  []string
	Tags           []string
}

// Task is one attempt of a job to execute.
type Task struct {
	JobID        string
	Attempt      uint32
	Node         string
	Kind         string
	Payload      []byte // JSON for built-in agents
	Capabilities []string
	Seed         uint64
}

// Result is the outcome of a task.
type Result struct {
	OK        bool
	Retryable bool
	ExitCode  int64
	Output    string
	Error     string
	Usage     map[string]float64 // units consumed, e.g. {"token": 812}
}
