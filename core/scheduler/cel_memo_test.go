package scheduler

import (
	"reflect"
	"testing"
)

func TestJobFieldsOf(t *testing.T) {
	s := New(DefaultConfig())
	cases := []struct {
		src    string
		fields []string
		memo   bool
	}{
		{`'SOC2' in node.attestations.certifications`, []string{}, true},
		{`!('gpu' in job.capabilities) || 'SOC2-Type-II' in node.attestations.certifications`, []string{"capabilities"}, true},
		{`job.value > 10.0 && job.shard == node.shard`, []string{"shard", "value"}, true},
		{`job["capabilities"].size() > 0`, nil, false},
		{`has(job.kind) && job.kind == 'sim'`, nil, false},
		{`job.secret == 'x'`, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			e := s.compile(exprCompliance, tc.src)
			if e.err != nil {
				t.Fatal(e.err)
			}
			if e.memo != tc.memo || (tc.memo && !reflect.DeepEqual(e.jobFields, tc.fields)) {
				t.Fatalf("fields %v memo %v, want %v %v", e.jobFields, e.memo, tc.fields, tc.memo)
			}
		})
	}
}
