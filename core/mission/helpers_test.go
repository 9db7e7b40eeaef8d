package mission

import (
	"os"
	"reflect"
)

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

func kardashevSource(t interface{ Fatal(...any) }) string {
	b, err := os.ReadFile("../../examples/mission.hcl")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
