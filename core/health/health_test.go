package health

import (
	"reflect"
	"testing"
)

func TestOf(t *testing.T) {
	cases := []struct {
		name   string
		in     Shard
		status string
		codes  []string
	}{
		{"idle shard", Shard{Nodes: 2}, OK, nil},
		{"parked work", Shard{Nodes: 2, Parked: 7745}, Alert, []string{ReasonParked}},
		{"one node of two down", Shard{Nodes: 2, NodesDown: 1}, Degraded, []string{ReasonNodesDown}},
		{"every node down", Shard{Nodes: 2, NodesDown: 2}, Alert, []string{ReasonNodesDown}},
		{"no nodes at all", Shard{}, OK, nil},
		{"queue past alert threshold", Shard{Nodes: 1, QueueDepth: 60, QueueAlertThreshold: 50}, Degraded, []string{ReasonQueue}},
		{"queue at its threshold", Shard{Nodes: 1, QueueDepth: 50, QueueAlertThreshold: 50}, OK, nil},
		{"queue at max_queue", Shard{Nodes: 1, QueueDepth: 100, MaxQueue: 100, QueueAlertThreshold: 50}, Alert, []string{ReasonQueue}},
		{"failed jobs", Shard{Nodes: 1, Failed: 3}, Degraded, []string{ReasonFailed}},
		{"paused", Shard{Nodes: 1, Paused: true}, Degraded, []string{ReasonPaused}},
		{"worst first", Shard{Nodes: 3, NodesDown: 1, Parked: 2, Paused: true}, Alert,
			[]string{ReasonParked, ReasonNodesDown, ReasonPaused}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Of(tc.in)
			var codes []string
			for _, r := range v.Reasons {
				codes = append(codes, r.Code)
				if r.Text == "" {
					t.Errorf("reason %s has no text", r.Code)
				}
			}
			if v.Status != tc.status || !reflect.DeepEqual(codes, tc.codes) {
				t.Fatalf("got %s %v, want %s %v", v.Status, codes, tc.status, tc.codes)
			}
		})
	}
	if got := Of(Shard{Nodes: 1, Parked: 1}).Reasons[0].Text; got != "1 job parked" {
		t.Errorf("text %q", got)
	}
}

func TestRunExit(t *testing.T) {
	cases := []struct {
		name   string
		shards []Verdict
		want   int
	}{
		{"no shards", nil, ExitDone},
		{"all ok", []Verdict{Of(Shard{Nodes: 1}), Of(Shard{Nodes: 1})}, ExitDone},
		{"degraded by a node down only", []Verdict{Of(Shard{Nodes: 2, NodesDown: 1})}, ExitDone},
		{"parked work", []Verdict{Of(Shard{Nodes: 1}), Of(Shard{Nodes: 1, Parked: 1})}, ExitWork},
		{"failed work", []Verdict{Of(Shard{Nodes: 1, Failed: 1})}, ExitWork},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RunExit(tc.shards); got != tc.want {
				t.Fatalf("RunExit = %d, want %d", got, tc.want)
			}
		})
	}
	if Worst(OK, Alert, Degraded) != Alert || Worst() != OK || Worst(OK, Degraded) != Degraded {
		t.Error("Worst")
	}
}
