# A mission whose nodes do real work on this host instead of simulating it:
# "earth.exec-1" runs allowlisted commands through the exec plugin and
# "earth.container-1" runs containers through the container plugin. The
# agent config must enable both plugins (see agent.hcl).
#
#   planetary agent -dev -config examples/mission-real.hcl
#   planetary job submit examples/jobs/exec-echo.hcl

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

# Runs each job in a container (podman or docker on this host).
node "earth.container-1" {
  shard        = "earth"
  plugin       = "container"
  capabilities = ["container"]
  capacity     = 2
  price {
    base = 0.002
    rate "second" {
      per_unit = 0.0005
    }
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
