package sdk

// Plugin-side converters between the wire messages and this package's types.
// The host side has the mirror image in sdk/internal/convert (package sdk
// cannot import it: that package imports sdk). All of them accept nil.

import (
	"fmt"
	"sort"

	"github.com/planetary/planetary/sdk/internal/agentpb"
)

func infoToProto(in Info, impl []string) *agentpb.InfoResponse {
	return &agentpb.InfoResponse{
		Name:        in.Name,
		Version:     in.Version,
		Description: in.Description,
		ApiVersions: in.APIVersions,
		Implements:  impl,
	}
}

func schemaToProto(in Schema) (*agentpb.SchemaResponse, error) {
	out := &agentpb.SchemaResponse{}
	for _, a := range in.Attributes {
		pa := &agentpb.Attribute{Name: a.Name, Type: string(a.Type), Required: a.Required, Description: a.Description}
		if a.Default != nil {
			v, err := valueToProto(a.Default)
			if err != nil {
				return nil, fmt.Errorf("attribute %q default: %w", a.Name, err)
			}
			pa.Default = v
		}
		out.Attributes = append(out.Attributes, pa)
	}
	return out, nil
}

// valueToProto encodes one constant config value.
func valueToProto(v any) (*agentpb.Value, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return &agentpb.Value{Kind: &agentpb.Value_StringValue{StringValue: x}}, nil
	case bool:
		return &agentpb.Value{Kind: &agentpb.Value_BoolValue{BoolValue: x}}, nil
	case float64:
		return &agentpb.Value{Kind: &agentpb.Value_NumberValue{NumberValue: x}}, nil
	case float32:
		return &agentpb.Value{Kind: &agentpb.Value_NumberValue{NumberValue: float64(x)}}, nil
	case int:
		return &agentpb.Value{Kind: &agentpb.Value_NumberValue{NumberValue: float64(x)}}, nil
	case int64:
		return &agentpb.Value{Kind: &agentpb.Value_NumberValue{NumberValue: float64(x)}}, nil
	case uint64:
		return &agentpb.Value{Kind: &agentpb.Value_NumberValue{NumberValue: float64(x)}}, nil
	case []string:
		return &agentpb.Value{Kind: &agentpb.Value_StringList{StringList: &agentpb.StringList{Values: x}}}, nil
	case []any:
		ss := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("list element %d is %T, want string: %w", i, e, ErrBadValue)
			}
			ss = append(ss, s)
		}
		return &agentpb.Value{Kind: &agentpb.Value_StringList{StringList: &agentpb.StringList{Values: ss}}}, nil
	default:
		return nil, fmt.Errorf("%T: %w", v, ErrBadValue)
	}
}

func valueFromProto(v *agentpb.Value) any {
	switch k := v.GetKind().(type) {
	case *agentpb.Value_StringValue:
		return k.StringValue
	case *agentpb.Value_NumberValue:
		return k.NumberValue
	case *agentpb.Value_BoolValue:
		return k.BoolValue
	case *agentpb.Value_StringList:
		return append([]string{}, k.StringList.GetValues()...)
	default:
		return nil
	}
}

func configFromProto(in *agentpb.ConfigureRequest) Config {
	out := Config{Values: map[string]any{}}
	if n := in.GetNode(); n != nil {
		out.Node = NodeInfo{ID: n.GetId(), Shard: n.GetShard(), DataDir: n.GetDataDir(), Seed: n.GetSeed()}
	}
	keys := make([]string, 0, len(in.GetValues()))
	for k := range in.GetValues() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Values[k] = valueFromProto(in.GetValues()[k])
	}
	return out
}

func fingerprintToProto(in Fingerprint) *agentpb.FingerprintResponse {
	return &agentpb.FingerprintResponse{
		Capabilities: in.Capabilities,
		Resources: &agentpb.Resources{
			CpuCores: in.Resources.CPUCores, MemoryGb: in.Resources.MemoryGB, Gpus: in.Resources.GPUs,
			GpuClass: in.Resources.GPUClass, StorageGb: in.Resources.StorageGB,
		},
		Runtime: in.Runtime,
		Images:  in.Images,
		Healthy: in.Healthy,
		Message: in.Message,
	}
}

func priceScheduleToProto(in PriceSchedule) *agentpb.PriceScheduleResponse {
	out := &agentpb.PriceScheduleResponse{Currency: in.Currency, BaseMu: in.BaseMu, Expr: in.Expr}
	for _, r := range in.Rates {
		out.Rates = append(out.Rates, &agentpb.PriceRate{Unit: r.Unit, PerUnitMu: r.PerUnitMu})
	}
	return out
}

func attestationsToProto(in Attestations) *agentpb.AttestResponse {
	return &agentpb.AttestResponse{
		Certifications: in.Certifications, Jurisdiction: in.Jurisdiction,
		DataResidency: in.DataResidency, Tags: in.Tags,
	}
}

func taskFromProto(in *agentpb.Task) Task {
	return Task{
		JobID: in.GetJobId(), Attempt: in.GetAttempt(), Node: in.GetNode(), Kind: in.GetKind(),
		Payload: in.GetPayload(), Capabilities: in.GetCapabilities(), Seed: in.GetSeed(),
	}
}

// fillResult sets a zero wire result from in.
func fillResult(dst *agentpb.Result, in *Result) {
	dst.Ok, dst.Retryable, dst.ExitCode = in.OK, in.Retryable, in.ExitCode
	dst.Output, dst.Error, dst.Usage = in.Output, in.Error, in.Usage
}
