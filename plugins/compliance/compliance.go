// Package compliance is the built-in compliance agent. It attests the node's
// compliance envelope from its config and screens task payloads: built-in
// checks (personal data patterns, export-control codes, data residency) and
// the operator's CEL rules.
//
// A screening that ran always returns Result{OK: true}: ExitCode 0 with
// decision "allow", ExitCode 1 with decision "deny". Output is the JSON
// Decision. A payload that cannot be screened (not JSON) is a failed result.
// Rules fail closed: a rule that cannot be evaluated denies.
package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/planetary/planetary/sdk"
)

// Version is the agent's version.
const Version = "0.1.0"

var (
	// ErrConfig means a config value is missing or of the wrong type.
	ErrConfig = errors.New("compliance: invalid config")
	// ErrRule means a rule does not parse, compile, or yield a bool.
	ErrRule = errors.New("compliance: invalid rule")
	// ErrPayload means a task payload is not valid JSON for Payload.
	ErrPayload = errors.New("compliance: invalid payload")
)

// Rule is one operator rule: Expr is CEL that must evaluate to true for the
// payload to be allowed; otherwise Message is given as the reason.
//
// In config, `rules` is a list of strings; each is either a bare CEL
// expression (named rule-<n>) or a JSON object {"name", "expr", "message"}.
//
// Variables: subject (any JSON), residency (string), export_codes
// (list(string)), text (string), and node, a map with certifications,
// jurisdiction, data_residency and tags. cel-go's strings extension is on.
type Rule struct {
	Name    string `json:"name"`
	Expr    string `json:"expr"`
	Message string `json:"message"`
}

// Config is the agent's parsed configuration.
type Config struct {
	// Envelope is what Attest returns.
	Envelope sdk.Attestations
	// Rules are the operator's CEL rules, in order.
	Rules []Rule
	// ExportControlled lists export-control codes that deny when a payload
	// carries them (case-insensitive).
	ExportControlled []string
	// PII enables the built-in personal data scan (emails, US SSNs, payment
	// card numbers) over text and every string in subject.
	PII bool
}

// DefaultConfig returns the defaults used for unset values.
func DefaultConfig() Config { return Config{PII: true} }

// Payload is the JSON task payload of the compliance agent.
type Payload struct {
	// Subject is any JSON value the rules inspect; its strings are scanned for PII.
	Subject any `json:"subject,omitempty"`
	// Residency is where the data must live; it must be in the node's data_residency when that is set.
	Residency string `json:"residency,omitempty"`
	// ExportCodes are export-control classifications of the data.
	ExportCodes []string `json:"export_codes,omitempty"`
	// Text is free text scanned for PII.
	Text string `json:"text,omitempty"`
}

// Decision is the Output of a screening.
type Decision struct {
	Decision string   `json:"decision"` // "allow" or "deny"
	Reasons  []string `json:"reasons"`  // empty when allowed
}

// compiledRule is a Rule ready to evaluate.
type compiledRule struct {
	Rule
	prg cel.Program
}

// detectors are the built-in personal data patterns.
type detectors struct {
	email, ssn, card *regexp.Regexp
}

func newDetectors() detectors {
	return detectors{
		email: regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`),
		ssn:   regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`),
		card:  regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`),
	}
}

// Agent is the compliance agent.
type Agent struct {
	lock  sync.Mutex
	cfg   Config
	rules []compiledRule
	env   *cel.Env
	det   detectors
}

// New returns an unconfigured compliance agent.
func New() sdk.Agent { return newAgent() }

func newAgent() *Agent { return &Agent{cfg: DefaultConfig(), det: newDetectors()} }

// Info implements sdk.Agent.
func (a *Agent) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "compliance",
		Version:     Version,
		Description: "attests a compliance envelope and screens payloads against built-in checks and CEL rules",
		APIVersions: []string{sdk.APIVersion1},
	}, nil
}

// Schema implements sdk.Agent.
func (a *Agent) Schema(ctx context.Context) (sdk.Schema, error) {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "certifications", Type: sdk.TypeStringList, Description: "certifications held, e.g. iso27001"},
		{Name: "jurisdiction", Type: sdk.TypeString, Description: "legal jurisdiction, e.g. eu"},
		{Name: "data_residency", Type: sdk.TypeStringList, Description: "regions where data may reside; a payload residency must be one of them"},
		{Name: "tags", Type: sdk.TypeStringList, Description: "free-form compliance tags"},
		{Name: "rules", Type: sdk.TypeStringList, Description: `CEL rules that must hold: a bare expression or {"name","expr","message"} JSON`},
		{Name: "export_controlled", Type: sdk.TypeStringList, Description: "export-control codes that deny"},
		{Name: "pii", Type: sdk.TypeBool, Default: true, Description: "scan for emails, SSNs and card numbers"},
	}}, nil
}

// Configure implements sdk.Agent. Every rule is compiled here, so a bad rule
// is a config error rather than a failed task.
func (a *Agent) Configure(ctx context.Context, c sdk.Config) error {
	cfg, err := parseConfig(c.Values)
	if err != nil {
		return err
	}
	env, rules, err := compileRules(cfg.Rules)
	if err != nil {
		return err
	}
	a.lock.Lock()
	a.cfg, a.env, a.rules = cfg, env, rules
	a.lock.Unlock()
	return nil
}

func parseConfig(v map[string]any) (Config, error) {
	cfg := DefaultConfig()
	var err error
	if cfg.Envelope.Certifications, err = valStrings(v, "certifications"); err != nil {
		return cfg, err
	}
	if cfg.Envelope.Jurisdiction, err = valString(v, "jurisdiction", ""); err != nil {
		return cfg, err
	}
	if cfg.Envelope.DataResidency, err = valStrings(v, "data_residency"); err != nil {
		return cfg, err
	}
	if cfg.Envelope.Tags, err = valStrings(v, "tags"); err != nil {
		return cfg, err
	}
	if cfg.ExportControlled, err = valStrings(v, "export_controlled"); err != nil {
		return cfg, err
	}
	if cfg.PII, err = valBool(v, "pii", cfg.PII); err != nil {
		return cfg, err
	}
	raw, err := valStrings(v, "rules")
	if err != nil {
		return cfg, err
	}
	for i, s := range raw {
		r, err := ParseRule(s, i)
		if err != nil {
			return cfg, err
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg, nil
}

// ParseRule reads one `rules` entry: a JSON object {"name","expr","message"}
// or a bare CEL expression, which is named rule-<index+1>.
func ParseRule(s string, index int) (Rule, error) {
	s = strings.TrimSpace(s)
	r := Rule{Expr: s}
	if strings.HasPrefix(s, "{") {
		r = Rule{}
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			return r, fmt.Errorf("%w: rules[%d]: %w", ErrRule, index, err)
		}
	}
	if strings.TrimSpace(r.Expr) == "" {
		return r, fmt.Errorf("%w: rules[%d]: empty expression", ErrRule, index)
	}
	if r.Name == "" {
		r.Name = fmt.Sprintf("rule-%d", index+1)
	}
	if r.Message == "" {
		r.Message = "condition not met: " + r.Expr
	}
	return r, nil
}

// NewEnv returns the CEL environment rules are compiled in.
func NewEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		cel.Variable("subject", cel.DynType),
		cel.Variable("residency", cel.StringType),
		cel.Variable("export_codes", cel.ListType(cel.StringType)),
		cel.Variable("text", cel.StringType),
		cel.Variable("node", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
	)
	if err != nil {
		return nil, fmt.Errorf("compliance: cel env: %w", err)
	}
	return env, nil
}

func compileRules(rules []Rule) (*cel.Env, []compiledRule, error) {
	env, err := NewEnv()
	if err != nil {
		return nil, nil, err
	}
	out := make([]compiledRule, 0, len(rules))
	for _, r := range rules {
		ast, iss := env.Compile(r.Expr)
		if iss.Err() != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrRule, r.Name, iss.Err())
		}
		if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
			return nil, nil, fmt.Errorf("%w: %s: must yield bool, yields %s", ErrRule, r.Name, ast.OutputType())
		}
		prg, err := env.Program(ast, cel.CostLimit(1_000_000))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrRule, r.Name, err)
		}
		out = append(out, compiledRule{Rule: r, prg: prg})
	}
	return env, out, nil
}

// Attest implements sdk.Attester: the envelope from config.
func (a *Agent) Attest(ctx context.Context) (sdk.Attestations, error) {
	a.lock.Lock()
	defer a.lock.Unlock()
	e := a.cfg.Envelope
	return sdk.Attestations{
		Certifications: slices.Clone(e.Certifications),
		Jurisdiction:   e.Jurisdiction,
		DataResidency:  slices.Clone(e.DataResidency),
		Tags:           slices.Clone(e.Tags),
	}, nil
}

// Fingerprint implements sdk.Fingerprinter: the "compliance" capability plus
// "cert:<name>" per certification. It sends once and ends with ctx.
func (a *Agent) Fingerprint(ctx context.Context) (<-chan sdk.Fingerprint, error) {
	a.lock.Lock()
	caps := []string{"compliance"}
	for _, c := range a.cfg.Envelope.Certifications {
		caps = append(caps, "cert:"+c)
	}
	n := len(a.rules)
	a.lock.Unlock()
	ch := make(chan sdk.Fingerprint, 1)
	ch <- sdk.Fingerprint{Capabilities: caps, Healthy: true, Message: fmt.Sprintf("screening with %d rule(s)", n)}
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// Screen applies the built-in checks and rules to p and returns the decision.
func (a *Agent) Screen(ctx context.Context, p Payload) Decision {
	a.lock.Lock()
	cfg, rules := a.cfg, a.rules
	a.lock.Unlock()

	var reasons []string
	if cfg.PII {
		reasons = append(reasons, a.scanPII(p)...)
	}
	for _, code := range p.ExportCodes {
		if slices.ContainsFunc(cfg.ExportControlled, func(c string) bool { return strings.EqualFold(c, code) }) {
			reasons = append(reasons, fmt.Sprintf("export: code %s is on the control list", code))
		}
	}
	if p.Residency != "" && len(cfg.Envelope.DataResidency) > 0 && !slices.Contains(cfg.Envelope.DataResidency, p.Residency) {
		reasons = append(reasons, fmt.Sprintf("residency: %s is not one of %s", p.Residency, strings.Join(cfg.Envelope.DataResidency, ", ")))
	}
	if len(rules) > 0 {
		vars := map[string]any{
			"subject":      p.Subject,
			"residency":    p.Residency,
			"export_codes": nonNil(p.ExportCodes),
			"text":         p.Text,
			"node": map[string]any{
				"certifications": nonNil(cfg.Envelope.Certifications),
				"jurisdiction":   cfg.Envelope.Jurisdiction,
				"data_residency": nonNil(cfg.Envelope.DataResidency),
				"tags":           nonNil(cfg.Envelope.Tags),
			},
		}
		for _, r := range rules {
			if ctx.Err() != nil {
				reasons = append(reasons, fmt.Sprintf("rule %s: not evaluated: %v", r.Name, ctx.Err()))
				break
			}
			val, _, err := r.prg.ContextEval(ctx, vars)
			switch {
			case err != nil:
				reasons = append(reasons, fmt.Sprintf("rule %s: evaluation error: %v", r.Name, err))
			case val.Value() == true:
			case val.Value() == false:
				reasons = append(reasons, fmt.Sprintf("rule %s: %s", r.Name, r.Message))
			default:
				reasons = append(reasons, fmt.Sprintf("rule %s: yields %v, not a bool", r.Name, val.Value()))
			}
		}
	}
	if len(reasons) == 0 {
		return Decision{Decision: "allow", Reasons: []string{}}
	}
	return Decision{Decision: "deny", Reasons: reasons}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// scanPII reports each kind of personal data found in text or in any string
// inside subject, once per kind and place.
func (a *Agent) scanPII(p Payload) []string {
	type place struct{ name, s string }
	places := []place{{"text", p.Text}}
	collectStrings(p.Subject, "subject", func(path, s string) { places = append(places, place{path, s}) })
	var reasons []string
	for _, pl := range places {
		if pl.s == "" {
			continue
		}
		if a.det.email.MatchString(pl.s) {
			reasons = append(reasons, "pii: email address in "+pl.name)
		}
		if a.det.ssn.MatchString(pl.s) {
			reasons = append(reasons, "pii: US social security number in "+pl.name)
		}
		for _, m := range a.det.card.FindAllString(pl.s, -1) {
			if luhn(m) {
				reasons = append(reasons, "pii: payment card number in "+pl.name)
				break
			}
		}
	}
	return reasons
}

// collectStrings calls fn for every string in a decoded JSON value, with a
// path such as subject.user.email or subject.items[2]; map keys are visited
// in sorted order.
func collectStrings(v any, path string, fn func(path, s string)) {
	switch x := v.(type) {
	case string:
		fn(path, x)
	case []any:
		for i, e := range x {
			collectStrings(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			collectStrings(x[k], path+"."+k, fn)
		}
	}
}

// luhn reports whether the digits in s pass the Luhn checksum.
func luhn(s string) bool {
	sum, n, double := 0, 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
		double = !double
	}
	return n >= 13 && sum%10 == 0
}

// Execute implements sdk.Executor: screens the payload. Allow: OK, ExitCode
// 0; deny: OK, ExitCode 1; Output is the Decision as JSON.
func (a *Agent) Execute(ctx context.Context, task sdk.Task) (sdk.Result, error) {
	var p Payload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		return sdk.Result{ExitCode: -1, Error: fmt.Errorf("%w: %w", ErrPayload, err).Error()}, nil
	}
	d := a.Screen(ctx, p)
	if err := ctx.Err(); err != nil {
		return sdk.Result{ExitCode: -1, Error: fmt.Sprintf("cancelled: %v", context.Cause(ctx))}, nil
	}
	out, err := json.Marshal(d)
	if err != nil {
		return sdk.Result{}, fmt.Errorf("compliance: encode decision: %w", err)
	}
	res := sdk.Result{OK: true, Output: string(out), Usage: map[string]float64{"screen": 1}}
	if d.Decision == "deny" {
		res.ExitCode = 1
	}
	return res, nil
}

var (
	_ sdk.Agent         = (*Agent)(nil)
	_ sdk.Attester      = (*Agent)(nil)
	_ sdk.Fingerprinter = (*Agent)(nil)
	_ sdk.Executor      = (*Agent)(nil)
)
