package convert

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/planetary/planetary/sdk"
	"github.com/planetary/planetary/sdk/internal/agentpb"
)

func TestNilSafe(t *testing.T) {
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"info", InfoFromProto(nil), sdk.Info{}},
		{"schema", SchemaFromProto(nil), sdk.Schema{}},
		{"value", ValueFromProto(nil), nil},
		{"fingerprint", FingerprintFromProto(nil), sdk.Fingerprint{}},
		{"fingerprint-no-resources", FingerprintFromProto(&agentpb.FingerprintResponse{Healthy: true}), sdk.Fingerprint{Healthy: true}},
		{"price", PriceScheduleFromProto(nil), sdk.PriceSchedule{}},
		{"price-nil-rate", PriceScheduleFromProto(&agentpb.PriceScheduleResponse{Rates: []*agentpb.PriceRate{nil}}), sdk.PriceSchedule{}},
		{"attest", AttestationsFromProto(nil), sdk.Attestations{}},
		{"result", ResultFromProto(nil), sdk.Result{}},
		{"schema-nil-attr", SchemaFromProto(&agentpb.SchemaResponse{Attributes: []*agentpb.Attribute{nil}}), sdk.Schema{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    any
		wantErr error
	}{
		{"string", "a", "a", nil},
		{"float", 1.5, 1.5, nil},
		{"int", 7, 7.0, nil},
		{"uint32", uint32(9), 9.0, nil},
		{"bool", true, true, nil},
		{"strings", []string{"a", "b"}, []string{"a", "b"}, nil},
		{"any-strings", []any{"a"}, []string{"a"}, nil},
		{"nil", nil, nil, nil},
		{"any-mixed", []any{"a", 1}, nil, sdk.ErrBadValue},
		{"map", map[string]any{}, nil, sdk.ErrBadValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pv, err := ValueToProto(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := ValueFromProto(pv); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestConfigToProtoNamesKey(t *testing.T) {
	_, err := ConfigToProto(sdk.Config{Values: map[string]any{"ok": "x", "bad": struct{}{}}})
	if !errors.Is(err, sdk.ErrBadValue) || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("err = %v", err)
	}
}
