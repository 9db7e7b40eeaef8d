package mission

import (
	"testing"
)

func TestRequiredCapabilities(t *testing.T) {
	cases := []struct {
		name    string
		kind    string
		payload string
		caps    []string
		want    []string
	}{
		{"container adds image", "container", `{"image":"localhost/bb:1"}`, []string{"container"}, []string{"container", "image:localhost/bb:1"}},
		{"already present", "container", `{"image":"localhost/bb:1"}`, []string{"image:localhost/bb:1"}, []string{"image:localhost/bb:1"}},
		{"no caps", "container", `{"image":"bb@sha256:00"}`, nil, []string{"image:bb@sha256:00"}},
		{"no tag means latest", "container", `{"image":"busybox"}`, nil, []string{"image:busybox:latest"}},
		{"registry port, no tag", "container", `{"image":"localhost:5000/bb"}`, nil, []string{"image:localhost:5000/bb:latest"}},
		{"no image", "container", `{"command":["true"]}`, []string{"container"}, []string{"container"}},
		{"image not a string", "container", `{"image":3}`, []string{"container"}, []string{"container"}},
		{"bad payload", "container", `[1]`, []string{"container"}, []string{"container"}},
		{"other kind", "exec", `{"image":"localhost/bb:1"}`, []string{"exec"}, []string{"exec"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append([]string(nil), c.caps...)
			got := RequiredCapabilities(c.kind, []byte(c.payload), in)
			if !equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
			if !equal(in, c.caps) && !(len(in) == 0 && len(c.caps) == 0) {
				t.Fatalf("input changed to %#v", in)
			}
		})
	}
}

const containerJobs = `
job "c1" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  payload = {
    image   = "localhost/planetary-busybox:1"
    command = ["echo", "hi"]
  }
}

job "e1" {
  shard        = "earth"
  capabilities = ["exec"]
  kind         = "exec"
  payload = {
    command = "echo"
  }
}
`

const containerWorkload = `
mission "m" {
  seed = 1
}

shard "earth" {}

node "earth.c" {
  shard        = "earth"
  plugin       = "container"
  capabilities = ["container"]
  capacity     = 1
}

workload "w" {
  shard        = "earth"
  count        = 3
  capabilities = ["container"]
  kind         = "container"
  payload = {
    image = "localhost/planetary-busybox:1"
  }
}
`

func TestContainerJobsRequireImage(t *testing.T) {
	jobs, diags := ParseJobs([]byte(containerJobs), "c.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	m, diags := ParseMission([]byte(containerWorkload), "m.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	gen := GenerateJobs(m, 0)
	img := []string{"container", "image:localhost/planetary-busybox:1"}
	cases := []struct {
		name      string
		got, want any
	}{
		{"job file container", jobs[0].Capabilities, img},
		{"job file exec untouched", jobs[1].Capabilities, []string{"exec"}},
		{"workload jobs", len(gen), 3},
		{"workload first", gen[0].Capabilities, img},
		{"workload last", gen[2].Capabilities, img},
		{"workload blueprint untouched", m.Workloads[0].Capabilities, []string{"container"}},
		{"command", jobs[0].Command("alice").Capabilities, img},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !equal(c.got, c.want) {
				t.Fatalf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
}
