package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/planetary/planetary/sdk"
)

func configured(t *testing.T, values map[string]any) *Agent {
	t.Helper()
	a := newAgent()
	if err := a.Configure(context.Background(), sdk.Config{Values: values}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return a
}

func baseConfig() map[string]any {
	return map[string]any{
		"certifications":    []string{"iso27001", "soc2"},
		"jurisdiction":      "eu",
		"data_residency":    []string{"eu-west", "eu-central"},
		"tags":              []string{"gdpr"},
		"export_controlled": []string{"5A002", "ML8"},
		"rules": []string{
			`size(export_codes) <= 3`,
			`{"name":"max-amount","expr":"!has(subject.amount) || subject.amount < 10000.0","message":"amount at or over 10000"}`,
			`{"name":"gdpr-node","expr":"residency == '' || !residency.startsWith('eu') || 'gdpr' in node.tags"}`,
			`{"name":"no-secret","expr":"!text.lowerAscii().contains('top secret')","message":"classified marking in text"}`,
		},
	}
}

func TestConfigure(t *testing.T) {
	cases := []struct {
		name    string
		values  map[string]any
		wantErr error
	}{
		{"empty", nil, nil},
		{"full", baseConfig(), nil},
		{"bad cel", map[string]any{"rules": []string{"subject.("}}, ErrRule},
		{"not bool", map[string]any{"rules": []string{`"yes"`}}, ErrRule},
		{"bad json rule", map[string]any{"rules": []string{`{"name":`}}, ErrRule},
		{"empty expr", map[string]any{"rules": []string{`{"name":"x"}`}}, ErrRule},
		{"unknown variable", map[string]any{"rules": []string{`user == "x"`}}, ErrRule},
		{"bad pii type", map[string]any{"pii": "yes"}, ErrConfig},
		{"bad list", map[string]any{"certifications": "iso"}, ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := newAgent().Configure(context.Background(), sdk.Config{Values: tc.values})
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestAttest(t *testing.T) {
	a := configured(t, baseConfig())
	att, err := a.Attest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Attestations{Certifications: []string{"iso27001", "soc2"}, Jurisdiction: "eu",
		DataResidency: []string{"eu-west", "eu-central"}, Tags: []string{"gdpr"}}
	if !slices.Equal(att.Certifications, want.Certifications) || att.Jurisdiction != want.Jurisdiction ||
		!slices.Equal(att.DataResidency, want.DataResidency) || !slices.Equal(att.Tags, want.Tags) {
		t.Fatalf("attest = %+v", att)
	}
}

func TestScreen(t *testing.T) {
	cases := []struct {
		name    string
		values  map[string]any
		payload string
		want    []string // reasons; nil means allow
	}{
		{"clean", nil, `{"subject":{"amount":10},"residency":"eu-west","text":"quarterly numbers"}`, nil},
		{"email in text", nil, `{"text":"mail bob@example.com now"}`, []string{"pii: email address in text"}},
		{"ssn in subject", nil, `{"subject":{"people":[{"ssn":"123-45-6789"}]}}`, []string{"pii: US social security number in subject.people[0].ssn"}},
		{"card passes luhn", nil, `{"text":"card 4111 1111 1111 1111 exp 12/30"}`, []string{"pii: payment card number in text"}},
		{"digits fail luhn", nil, `{"text":"order 4111 1111 1111 1112"}`, nil},
		{"pii off", map[string]any{"pii": false}, `{"text":"bob@example.com"}`, nil},
		{"export match", nil, `{"export_codes":["EAR99","5a002"]}`, []string{"export: code 5a002 is on the control list"}},
		{"residency outside", nil, `{"residency":"us-east"}`, []string{"residency: us-east is not one of eu-west, eu-central"}},
		{"rule bare", nil, `{"export_codes":["a","b","c","d"]}`, []string{"rule rule-1: condition not met: size(export_codes) <= 3"}},
		{"rule named", nil, `{"subject":{"amount":25000}}`, []string{"rule max-amount: amount at or over 10000"}},
		{"rule on node", map[string]any{"tags": []string{}}, `{"residency":"eu-west"}`, []string{"rule gdpr-node: condition not met: residency == '' || !residency.startsWith('eu') || 'gdpr' in node.tags"}},
		{"rule eval error fails closed", nil, `{"subject":{"amount":"lots"}}`, []string{"rule max-amount: evaluation error"}},
		{"several", nil, `{"text":"TOP SECRET: call 555-12-3456","residency":"mars"}`, []string{
			"pii: US social security number in text",
			"residency: mars is not one of eu-west, eu-central",
			"rule no-secret: classified marking in text",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals := baseConfig()
			for k, v := range tc.values {
				vals[k] = v
			}
			a := configured(t, vals)
			r, err := a.Execute(context.Background(), sdk.Task{JobID: "j", Attempt: 1, Payload: []byte(tc.payload)})
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK {
				t.Fatalf("screening did not run: %+v", r)
			}
			var d Decision
			if err := json.Unmarshal([]byte(r.Output), &d); err != nil {
				t.Fatalf("output %q: %v", r.Output, err)
			}
			wantDecision, wantExit := "allow", int64(0)
			if tc.want != nil {
				wantDecision, wantExit = "deny", 1
			}
			if d.Decision != wantDecision || r.ExitCode != wantExit || len(d.Reasons) != len(tc.want) {
				t.Fatalf("decision = %+v exit %d, want %s %q", d, r.ExitCode, wantDecision, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(d.Reasons[i], w) {
					t.Errorf("reason %d = %q, want prefix %q", i, d.Reasons[i], w)
				}
			}
		})
	}
}

func TestExecuteBadPayload(t *testing.T) {
	r, err := configured(t, nil).Execute(context.Background(), sdk.Task{Payload: []byte(`[`)})
	if err != nil || r.OK || !strings.Contains(r.Error, "invalid payload") {
		t.Fatalf("result = %+v, %v", r, err)
	}
}

func TestLuhn(t *testing.T) {
	cases := map[string]bool{
		"4111111111111111":    true,
		"4111-1111-1111-1111": true,
		"5500 0000 0000 0004": true,
		"4111111111111112":    false,
		"123":                 false,
	}
	for in, want := range cases {
		if got := luhn(in); got != want {
			t.Errorf("luhn(%q) = %v, want %v", in, got, want)
		}
	}
}
