package state

import (
	"errors"
	"fmt"
	"math"
)

// ErrLedgerOverflow is the reason Apply refuses a job (a submit, a spill or
// reroute, a settlement) whose amount would take a ledger sum past the
// largest int64: the ledger's tables are exact int64 sums, never wrapped.
var ErrLedgerOverflow = errors.New("ledger sum would overflow")

// ErrNegativeAmount is the reason Apply refuses a negative job value: the
// ledger's sums are bounded by their totals only while every amount added
// to them is non-negative.
var ErrNegativeAmount = errors.New("negative amount")

// MaxLedgerSum is the largest amount any ledger sum may hold, in
// micro-credits: 9,223 jobs at the largest value (1e15 micro-credits) fit,
// the 9,224th does not.
const MaxLedgerSum = math.MaxInt64

// Checked sums. Every value the ledger adds up is a non-negative int64, and
// each of its sums is part of a total the FSM checks before it adds to it:
//
//   - job values: every per-state, per-shard, per-node and collected value
//     is a sum over a subset of all jobs ever submitted, whose total is
//     ValueTotal; a submit that would take ValueTotal past MaxLedgerSum is
//     refused (CheckValue).
//   - payments: every node's payments and the collected payments are parts
//     of PaidTotal; a settlement that would take it past MaxLedgerSum fails
//     its job instead (CheckPayment).
//   - flows: every flow's value is part of FlowTotal; a spill or reroute
//     that would take it past MaxLedgerSum is refused (CheckFlow).
//
// So no table can wrap, and the invariants (which recompute every sum in
// checked arithmetic) report a table that did.

// AddChecked returns a+b and whether it did not overflow int64.
func AddChecked(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// ValueTotal is the sum of the values of every job ever submitted (live and
// collected): the sum over states of the global values. ok is false when
// the tables do not add up inside int64 (only a damaged state).
func (s *Store) ValueTotal() (total int64, ok bool) {
	for _, v := range s.global.ValueMu {
		if v < 0 {
			return 0, false
		}
		if total, ok = AddChecked(total, v); !ok {
			return 0, false
		}
	}
	return total, true
}

// PaidTotal is the sum of every node's payments.
func (s *Store) PaidTotal() int64 { return s.paidTotal }

// FlowTotal is the sum of the values of every spillover flow.
func (s *Store) FlowTotal() int64 { return s.flowTotal }

// CheckValue returns nil when a job of valueMu can be submitted without a
// ledger sum overflowing, else an error wrapping ErrNegativeAmount or
// ErrLedgerOverflow that says by how much.
func (s *Store) CheckValue(valueMu int64) error {
	if valueMu < 0 {
		return fmt.Errorf("%w: value %d micro-credits", ErrNegativeAmount, valueMu)
	}
	total, ok := s.ValueTotal()
	if !ok {
		return fmt.Errorf("%w: the ledger's job values do not add up inside int64", ErrLedgerOverflow)
	}
	if _, ok := AddChecked(total, valueMu); !ok {
		return fmt.Errorf("%w: value %s on top of the %s already submitted passes the ledger's limit of %s",
			ErrLedgerOverflow, FormatMicro(valueMu), FormatMicro(total), FormatMicro(MaxLedgerSum))
	}
	return nil
}

// CheckPayment returns nil when amountMu can be paid without the payments
// overflowing, else an error wrapping ErrLedgerOverflow.
func (s *Store) CheckPayment(amountMu int64) error {
	if amountMu < 0 {
		return fmt.Errorf("%w: payment %d micro-credits", ErrNegativeAmount, amountMu)
	}
	if _, ok := AddChecked(s.paidTotal, amountMu); !ok {
		return fmt.Errorf("%w: settlement %s on top of the %s already paid passes the ledger's limit of %s",
			ErrLedgerOverflow, FormatMicro(amountMu), FormatMicro(s.paidTotal), FormatMicro(MaxLedgerSum))
	}
	return nil
}

// CheckFlow returns nil when jobs worth valueMu in all can move between
// shards without the flows overflowing, else an error wrapping
// ErrLedgerOverflow.
func (s *Store) CheckFlow(valueMu int64) error {
	if valueMu < 0 {
		return fmt.Errorf("%w: flow %d micro-credits", ErrNegativeAmount, valueMu)
	}
	if _, ok := AddChecked(s.flowTotal, valueMu); !ok {
		return fmt.Errorf("%w: moving %s on top of the %s already moved between shards passes the ledger's limit of %s",
			ErrLedgerOverflow, FormatMicro(valueMu), FormatMicro(s.flowTotal), FormatMicro(MaxLedgerSum))
	}
	return nil
}

// sumTotals recomputes paidTotal and flowTotal from the tables (restore);
// a sum past int64 saturates, so every further payment or flow is refused
// and the invariants report the tables.
func (s *Store) sumTotals() {
	s.paidTotal, s.flowTotal = 0, 0
	for _, a := range s.payments {
		s.paidTotal = satAdd(s.paidTotal, a)
	}
	for _, f := range s.flows {
		s.flowTotal = satAdd(s.flowTotal, f.ValueMu)
	}
}

func satAdd(a, b int64) int64 {
	if b < 0 {
		return MaxLedgerSum // a damaged table: refuse what comes next
	}
	if v, ok := AddChecked(a, b); ok {
		return v
	}
	return MaxLedgerSum
}
