// Package convert turns wire messages into sdk types and back on the host
// side. Every function accepts nil and returns the zero value for it.
package convert

import (
	"fmt"
	"sort"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/internal/agentpb"
)

// InfoFromProto converts an Info response.
func InfoFromProto(in *agentpb.InfoResponse) sdk.Info {
	if in == nil {
		return sdk.Info{}
	}
	return sdk.Info{
		Name: in.GetName(), Version: in.GetVersion(), Description: in.GetDescription(),
		APIVersions: in.GetApiVersions(), Implements: in.GetImplements(),
	}
}

// SchemaFromProto converts a Schema response.
func SchemaFromProto(in *agentpb.SchemaResponse) sdk.Schema {
	var out sdk.Schema
	for _, a := range in.GetAttributes() {
		if a == nil {
			continue
		}
		out.Attributes = append(out.Attributes, sdk.Attribute{
			Name: a.GetName(), Type: sdk.AttributeType(a.GetType()), Required: a.GetRequired(),
			Default: ValueFromProto(a.GetDefault()), Description: a.GetDescription(),
		})
	}
	return out
}

// ValueFromProto converts one config value (nil for an unset value).
func ValueFromProto(v *agentpb.Value) any {
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

// ValueToProto converts one config value: a string, a number (any Go int or
// float kind), a bool, or a list of strings ([]string or []any of strings).
func ValueToProto(v any) (*agentpb.Value, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return &agentpb.Value{Kind: &agentpb.Value_StringValue{StringValue: x}}, nil
	case bool:
		return &agentpb.Value{Kind: &agentpb.Value_BoolValue{BoolValue: x}}, nil
	case []string:
		return &agentpb.Value{Kind: &agentpb.Value_StringList{StringList: &agentpb.StringList{Values: x}}}, nil
	case []any:
		ss := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("list element %d is %T: %w", i, e, sdk.ErrBadValue)
			}
			ss = append(ss, s)
		}
		return &agentpb.Value{Kind: &agentpb.Value_StringList{StringList: &agentpb.StringList{Values: ss}}}, nil
	}
	if f, ok := Number(v); ok {
		return &agentpb.Value{Kind: &agentpb.Value_NumberValue{NumberValue: f}}, nil
	}
	return nil, fmt.Errorf("%T: %w", v, sdk.ErrBadValue)
}

// Number reports v as a float64 if it is any Go number.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// ConfigToProto converts a Configure request. Keys are visited in sorted
// order so the first bad value reported is stable.
func ConfigToProto(cfg sdk.Config) (*agentpb.ConfigureRequest, error) {
	out := &agentpb.ConfigureRequest{
		Node:   &agentpb.NodeInfo{Id: cfg.Node.ID, Shard: cfg.Node.Shard, DataDir: cfg.Node.DataDir, Seed: cfg.Node.Seed},
		Values: make(map[string]*agentpb.Value, len(cfg.Values)),
	}
	keys := make([]string, 0, len(cfg.Values))
	for k := range cfg.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := ValueToProto(cfg.Values[k])
		if err != nil {
			return nil, fmt.Errorf("config %q: %w", k, err)
		}
		if v != nil {
			out.Values[k] = v
		}
	}
	return out, nil
}

// FingerprintFromProto converts one fingerprint.
func FingerprintFromProto(in *agentpb.FingerprintResponse) sdk.Fingerprint {
	if in == nil {
		return sdk.Fingerprint{}
	}
	r := in.GetResources()
	return sdk.Fingerprint{
		Capabilities: in.GetCapabilities(),
		Resources: sdk.Resources{
			CPUCores: r.GetCpuCores(), MemoryGB: r.GetMemoryGb(), GPUs: r.GetGpus(),
			GPUClass: r.GetGpuClass(), StorageGB: r.GetStorageGb(),
		},
		Runtime: in.GetRuntime(), Images: in.GetImages(), Healthy: in.GetHealthy(), Message: in.GetMessage(),
	}
}

// PriceScheduleFromProto converts a price schedule.
func PriceScheduleFromProto(in *agentpb.PriceScheduleResponse) sdk.PriceSchedule {
	if in == nil {
		return sdk.PriceSchedule{}
	}
	out := sdk.PriceSchedule{Currency: in.GetCurrency(), BaseMu: in.GetBaseMu(), Expr: in.GetExpr()}
	for _, r := range in.GetRates() {
		if r == nil {
			continue
		}
		out.Rates = append(out.Rates, sdk.PriceRate{Unit: r.GetUnit(), PerUnitMu: r.GetPerUnitMu()})
	}
	return out
}

// AttestationsFromProto converts attestations.
func AttestationsFromProto(in *agentpb.AttestResponse) sdk.Attestations {
	if in == nil {
		return sdk.Attestations{}
	}
	return sdk.Attestations{
		Certifications: in.GetCertifications(), Jurisdiction: in.GetJurisdiction(),
		DataResidency: in.GetDataResidency(), Tags: in.GetTags(),
	}
}

// TaskToProto converts a task.
func TaskToProto(t sdk.Task) *agentpb.Task {
	return &agentpb.Task{
		JobId: t.JobID, Attempt: t.Attempt, Node: t.Node, Kind: t.Kind,
		Payload: t.Payload, Capabilities: t.Capabilities, Seed: t.Seed,
	}
}

// ResultFromProto converts a result.
func ResultFromProto(in *agentpb.Result) sdk.Result {
	if in == nil {
		return sdk.Result{}
	}
	return sdk.Result{
		OK: in.GetOk(), Retryable: in.GetRetryable(), ExitCode: in.GetExitCode(),
		Output: in.GetOutput(), Error: in.GetError(), Usage: in.GetUsage(),
	}
}
