package scheduler

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/planetary/planetary/raftfsm/state"
)

// celCostLimit bounds the work of one CEL evaluation. Cost tracking is
// deterministic, so an expression over the limit fails the same way on
// every replica and every replay.
const celCostLimit = 1_000_000

// celCacheMax bounds the compiled-expression cache; it is cleared when full.
const celCacheMax = 256

type exprKind uint8

const (
	exprCompliance exprKind = iota // must yield bool
	exprPrice                      // must yield double (credits) or int (micro-credits)
)

type exprKey struct {
	kind exprKind
	src  string
}

// expr is a compiled CEL expression. nodeOnly is set when the expression
// does not refer to `job`, so its result can be cached per node and round.
type expr struct {
	prg      cel.Program
	nodeOnly bool
	// jobFields are the `job` fields the expression reads, sorted, when it
	// reads `job` only through field selections (job.capabilities, ...): its
	// result then depends on the node and those fields alone and is
	// memoized per round. memo is false when `job` is used otherwise.
	jobFields []string
	memo      bool
	err       error
}

// celEnvs are the two environments: full declares `node` and `job`;
// nodeOnly declares only `node` and tells whether an expression needs `job`.
type celEnvs struct {
	full     *cel.Env
	nodeOnly *cel.Env
}

func newCELEnvs() (celEnvs, error) {
	mapT := cel.MapType(cel.StringType, cel.DynType)
	full, err := cel.NewEnv(cel.Variable("node", mapT), cel.Variable("job", mapT))
	if err != nil {
		return celEnvs{}, fmt.Errorf("cel env: %w", err)
	}
	nodeOnly, err := cel.NewEnv(cel.Variable("node", mapT))
	if err != nil {
		return celEnvs{}, fmt.Errorf("cel env: %w", err)
	}
	return celEnvs{full: full, nodeOnly: nodeOnly}, nil
}

// compile returns the cached program for (kind, src), compiling it once.
func (s *Scheduler) compile(kind exprKind, src string) *expr {
	key := exprKey{kind, src}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.exprs[key]; ok {
		return e
	}
	e := s.compileLocked(kind, src)
	if e.err != nil {
		s.logger.Warn("expression does not compile; no node passes it", "error", e.err)
	}
	if len(s.exprs) >= celCacheMax {
		clear(s.exprs)
	}
	s.exprs[key] = e
	return e
}

func (s *Scheduler) compileLocked(kind exprKind, src string) *expr {
	if s.envErr != nil {
		return &expr{err: s.envErr}
	}
	ast, iss := s.envs.full.Compile(src)
	if iss != nil && iss.Err() != nil {
		return &expr{err: fmt.Errorf("%w: %s", ErrExprCompile, iss.Err())}
	}
	out := ast.OutputType()
	switch kind {
	case exprCompliance:
		if !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
			return &expr{err: fmt.Errorf("%w: compliance policy yields %s, want bool", ErrExprCompile, out)}
		}
	case exprPrice:
		if !out.IsExactType(cel.DoubleType) && !out.IsExactType(cel.IntType) &&
			!out.IsExactType(cel.UintType) && !out.IsExactType(cel.DynType) {
			return &expr{err: fmt.Errorf("%w: price expression yields %s, want double or int", ErrExprCompile, out)}
		}
	}
	prg, err := s.envs.full.Program(ast, cel.CostLimit(celCostLimit))
	if err != nil {
		return &expr{err: fmt.Errorf("%w: %w", ErrExprCompile, err)}
	}
	_, niss := s.envs.nodeOnly.Compile(src)
	e := &expr{prg: prg, nodeOnly: niss == nil || niss.Err() == nil}
	e.jobFields, e.memo = jobFieldsOf(ast)
	return e
}

// jobFieldsOf lists the fields of `job` an expression selects, and whether
// `job` appears only in such selections of fields jobKey knows.
func jobFieldsOf(a *cel.Ast) ([]string, bool) {
	var (
		fields      = map[string]bool{}
		idents, sel int
	)
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.IdentKind:
			if e.AsIdent() == "job" {
				idents++
			}
		case celast.SelectKind:
			s := e.AsSelect()
			if op := s.Operand(); op.Kind() == celast.IdentKind && op.AsIdent() == "job" && !s.IsTestOnly() {
				sel++
				fields[s.FieldName()] = true
			}
		}
	}))
	if idents != sel {
		return nil, false
	}
	out := make([]string, 0, len(fields))
	for f := range fields {
		if !jobKeyField(f) {
			return nil, false
		}
		out = append(out, f)
	}
	sort.Strings(out)
	return out, true
}

// jobKeyField reports whether jobKey can encode field.
func jobKeyField(f string) bool {
	switch f {
	case "id", "shard", "home", "capabilities", "priority", "value", "max_price", "kind", "hops", "attempt":
		return true
	}
	return false
}

// jobKey encodes the values of fields of j (see jobValue), for memoizing an
// expression's result.
func jobKey(b []byte, j *state.Job, fields []string) []byte {
	for _, f := range fields {
		b = append(b, 0)
		switch f {
		case "id":
			b = append(b, j.ID...)
		case "shard":
			b = append(b, j.Shard...)
		case "home":
			b = append(b, j.Home...)
		case "capabilities":
			for _, c := range j.Capabilities {
				b = append(b, c...)
				b = append(b, 1)
			}
		case "priority":
			b = strconv.AppendInt(b, j.Priority, 10)
		case "value":
			b = strconv.AppendInt(b, j.ValueMu, 10)
		case "max_price":
			b = strconv.AppendInt(b, j.MaxPriceMu, 10)
		case "kind":
			b = append(b, j.Kind...)
		case "hops":
			b = strconv.AppendUint(b, uint64(j.Hops), 10)
		case "attempt":
			b = strconv.AppendUint(b, uint64(j.Attempt), 10)
		}
	}
	return b
}

// activation resolves `node` and `job` without building a map per call.
type activation struct {
	node, job ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "node":
		return a.node, a.node != nil
	case "job":
		return a.job, a.job != nil
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

func (e *expr) eval(node, job ref.Val) (ref.Val, error) {
	out, _, err := e.prg.Eval(&activation{node: node, job: job})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrExprEval, err)
	}
	return out, nil
}

// evalBool evaluates a compliance expression.
func (e *expr) evalBool(node, job ref.Val) (bool, error) {
	out, err := e.eval(node, job)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%w: compliance policy yielded %s, want bool", ErrExprEval, out.Type().TypeName())
	}
	return bool(b), nil
}

// evalMicro evaluates a price expression: a double is credits (rounded half
// away from zero to micro-credits), an int or uint is micro-credits.
func (e *expr) evalMicro(node, job ref.Val) (int64, error) {
	out, err := e.eval(node, job)
	if err != nil {
		return 0, err
	}
	switch v := out.(type) {
	case types.Double:
		f := math.Round(float64(v) * state.Micro)
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62 {
			return 0, fmt.Errorf("%w: price %v out of range", ErrExprEval, float64(v))
		}
		return int64(f), nil
	case types.Int:
		return int64(v), nil
	case types.Uint:
		if uint64(v) > 1<<62 {
			return 0, fmt.Errorf("%w: price %d out of range", ErrExprEval, uint64(v))
		}
		return int64(v), nil
	}
	return 0, fmt.Errorf("%w: price expression yielded %s, want double or int", ErrExprEval, out.Type().TypeName())
}

// Sentinel errors.
var (
	// ErrExprCompile: a compliance policy or price expression does not
	// compile, or yields the wrong type.
	ErrExprCompile = errors.New("cel compile")
	// ErrExprEval: an expression failed at evaluation time.
	ErrExprEval = errors.New("cel eval")
	// ErrNegativeQuote: a price schedule quoted below zero.
	ErrNegativeQuote = errors.New("negative quote")
)

func strList(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// nodeValue is the CEL value of `node`.
func (s *Scheduler) nodeValue(n *state.Node) ref.Val {
	d := n.Deployment
	m := map[string]any{
		"id":           n.ID,
		"shard":        n.Shard,
		"plugin_kind":  n.PluginKind,
		"capabilities": strList(n.Capabilities),
		"labels":       strList(n.Labels),
		"latency_ms":   effectiveLatency(n),
		"attestations": map[string]any{
			"certifications": strList(n.Attestations.Certifications),
			"jurisdiction":   n.Attestations.Jurisdiction,
			"data_residency": strList(n.Attestations.DataResidency),
			"tags":           strList(n.Attestations.Tags),
		},
		"deployment": map[string]any{
			"orchestration": d.Orchestration,
			"image":         d.Image,
			"runtime":       d.Runtime,
			"entrypoint":    d.Entrypoint,
			"version":       d.Version,
			"zones":         strList(d.Zones),
			"resources": map[string]any{
				"cpu_cores":  d.Resources.CPUCores,
				"memory_gb":  d.Resources.MemoryGB,
				"gpu_class":  d.Resources.GPUClass,
				"gpus":       d.Resources.GPUs,
				"storage_gb": d.Resources.StorageGB,
			},
		},
	}
	return s.envs.full.CELTypeAdapter().NativeToValue(m)
}

// jobValue is the CEL value of `job`.
func (s *Scheduler) jobValue(j *state.Job) ref.Val {
	m := map[string]any{
		"id":           j.ID,
		"shard":        j.Shard,
		"home":         j.Home,
		"capabilities": strList(j.Capabilities),
		"priority":     j.Priority,
		"value":        float64(j.ValueMu) / state.Micro,
		"max_price":    float64(j.MaxPriceMu) / state.Micro,
		"kind":         j.Kind,
		"hops":         int64(j.Hops),
		"attempt":      int64(j.Attempt),
	}
	return s.envs.full.CELTypeAdapter().NativeToValue(m)
}
