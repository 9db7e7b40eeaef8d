package report

import (
	"strings"
	"testing"

	"github.com/planetary/planetary/raftfsm/state"
)

// The ledger's settlement sums the job.completed events: quote and basis
// from the detail the FSM writes, the settled amount from amount_mu; an
// event without that detail (older logs) counts as paid its quote.
func TestSettlementFromEvents(t *testing.T) {
	metered := &state.Job{QuoteMu: 1_100_000, SettledMu: 500_000, Usage: []state.Quantity{{Unit: "token", Micro: 400 * state.Micro}}}
	capped := &state.Job{QuoteMu: 1_100_000, SettledMu: 1_100_000, Usage: []state.Quantity{{Unit: "token", Micro: 5000 * state.Micro}}}
	evs := []state.Event{
		{Type: state.EvJobCompleted, Job: "a", AmountMu: 500_000, Detail: state.SettleDetail(metered, state.SettledUsage)},
		{Type: state.EvJobCompleted, Job: "b", AmountMu: 1_100_000, Detail: state.SettleDetail(capped, state.SettledQuoteCap)},
		{Type: state.EvJobCompleted, Job: "c", AmountMu: 700_000},
		{Type: state.EvJobAssigned, Job: "d", AmountMu: 9_000_000},
	}
	sl := settlementOf(evs)
	if sl.Completed != 3 || sl.QuotedMu != 2_900_000 || sl.SettledMu != 2_300_000 || sl.Settled != 2.3 || sl.Quoted != 2.9 {
		t.Fatalf("settlement %+v", sl)
	}
	if sl.ByBasis[state.SettledUsage] != 1 || sl.ByBasis[state.SettledQuoteCap] != 1 || sl.ByBasis[unrecordedBasis] != 1 {
		t.Fatalf("by basis %v", sl.ByBasis)
	}
	if sl.Usage["token"] != 5400 {
		t.Fatalf("usage %v", sl.Usage)
	}
	// A ledger.json whose settlement was altered no longer matches its
	// events.
	rec := LedgerDoc{Settlement: sl}
	rec.Settlement.SettledMu--
	if probs := compareLedger(rec, LedgerDoc{Settlement: sl}); len(probs) != 1 || !strings.HasPrefix(probs[0], "settlement:") {
		t.Fatalf("problems %v", probs)
	}
}
