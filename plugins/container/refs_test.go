package container

import (
	"context"
	"slices"
	"testing"

	"github.com/planetary/planetary/sdk"
)

func TestImageRefs(t *testing.T) {
	cases := []struct {
		ref  string
		want []string
	}{
		{"localhost/bb:1", []string{"localhost/bb:1", "bb:1"}},
		{"docker.io/library/busybox:latest", []string{"docker.io/library/busybox:latest", "busybox:latest"}},
		{"quay.io/org/app:2", []string{"quay.io/org/app:2"}},
		{"bb:1", []string{"bb:1"}},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			if got := ImageRefs(c.ref); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestPriceScheduleUnset(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		want   sdk.PriceSchedule
	}{
		{"unset leaves the mission's price", nil, sdk.PriceSchedule{}},
		{"base only", map[string]any{"price_base": 0.5}, sdk.PriceSchedule{Currency: "credit", BaseMu: 500000,
			Rates: []sdk.PriceRate{{Unit: "second"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAgent()
			if err := a.Configure(context.Background(), sdk.Config{Values: c.values}); err != nil {
				t.Fatal(err)
			}
			got, err := a.PriceSchedule(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.BaseMu != c.want.BaseMu || got.Currency != c.want.Currency || !slices.Equal(got.Rates, c.want.Rates) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
