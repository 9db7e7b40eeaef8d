# A mission whose nodes do real work on this host instead of simulating it:
# "earth.exec-1" runs allowlisted commands through the exec plugin and
# "earth.container-1" runs containers through the container plugin. The
# agent config must enable both plugins (see agent.hcl; -dev uses it).
#
# The container jobs run in a busybox image made without a registry
# (Debian: apt-get install podman runc busybox-static):
#
#   planetary image build-busybox bb.tar
#   planetary image import bb.tar planetary-busybox:1
#   planetary agent -dev -config examples/mission-real.hcl
#   planetary job submit examples/jobs/exec-echo.hcl
#   planetary job submit examples/jobs/container-echo.hcl
#
# `planetary run -plan examples/mission-real.hcl` runs the whole workload and
# writes a report; its container jobs park when they are submitted before
# the container node's first fingerprint reached the servers.
#
# On a host without podman the container node stays down and its jobs are
# parked ("no up node ... has capabilities [container image:...]"); the exec
# jobs still complete.

mission "real-work" {
  seed        = 7
  owner       = "Planetary Fabric Owner"
  description = "One shard with an exec node and a container node."
}

shard "earth" {
  display_name      = "Earth Hypergrid"
  latency_budget_ms = 1000
  max_queue         = 1000
}

# Runs host commands from the exec plugin's allowlist.
node "earth.exec-1" {
  shard        = "earth"
  plugin       = "exec"
  capabilities = ["exec", "general"]
  capacity     = 4
  price {
    base = 0.001
  }
  attestations {
    jurisdiction = "earth"
  }
}

# Runs each job in a container (podman or docker on this host). The node
# advertises image:<name:tag> for each local image; a container job requires
# the image its payload names, so it only comes here when the image does.
node "earth.container-1" {
  shard        = "earth"
  plugin       = "container"
  capabilities = ["container"]
  capacity     = 4
  price {
    base = 0.002
    rate "second" {
      per_unit = 0.0005
    }
  }

  # Plugin config for this node (over the agent's plugin "container" block).
  # Debian 12 hosts without systemd cgroups: podman with runc (crun fails
  # here), cgroupfs, and rlimits runc can set.
  config {
    runtime              = "podman"
    runtime_path         = "/usr/sbin/runc"
    cgroup_manager       = "cgroupfs"
    ulimits              = ["nofile=1024:1024", "nproc=1024:1024"]
    network              = "none"
    stop_grace           = "2s"
    fingerprint_interval = "5s"
  }
}

checkpoint {
  interval = "30s"
  path     = "checkpoints/real-work.snap"
}

reporting {
  directory = "reports"
  label     = "real-work"
}

workload "echo" {
  shard        = "earth"
  count        = 10
  capabilities = ["exec"]
  kind         = "exec"
  value        = 1
  payload = {
    command = "echo"
    args    = ["hello from planetary"]
  }
}

workload "container-echo" {
  shard        = "earth"
  count        = 6
  capabilities = ["container"] # plus image:localhost/planetary-busybox:1, added
  kind         = "container"
  value        = 2
  payload = {
    image      = "localhost/planetary-busybox:1"
    command    = ["echo"]
    args       = ["hello from a container"]
    timeout_ms = 60000
  }
}

plan {
  label    = "real-work"
  deadline = "3m"
}
