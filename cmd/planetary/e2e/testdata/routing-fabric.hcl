# The routing scenarios' fabric: the Kardashev shards and GPU lanes of
# examples/mission.hcl with fewer moving parts. No workloads, no owner
# schedule and no plan, so every job in a scenario is one the test submits
# and every owner command is one the test sends.

mission "routing" {
  seed  = 7
  owner = "Routing drill"
}

shard "earth" {
  latency_budget_ms = 120
  max_queue         = 6000
  spillover_targets = ["mars"]
}

shard "mars" {
  latency_budget_ms = 420
  max_queue         = 4000
  spillover_targets = ["helios"]

  spillover "helios" {
    threshold             = 3600
    max_drain             = 30
    required_capabilities = ["gpu", "vision"]
  }
}

shard "helios" {
  latency_budget_ms = 850
  max_queue         = 2200
  spillover_targets = ["mars"]
}

# No spillover targets: luna never spills.
shard "luna" {
  latency_budget_ms = 180
}

node "luna.relay" {
  shard           = "luna"
  plugin          = "sim"
  capabilities    = ["navigation"]
  capacity        = 4
  max_concurrency = 4
  price {
    base = 0.00028
  }
}

node "earth.core-alpha" {
  shard           = "earth"
  plugin          = "sim"
  capabilities    = ["general", "logistics"]
  capacity        = 8
  max_concurrency = 8
  price {
    base = 0.00072
  }
}

node "mars.gpu-helion" {
  shard           = "mars"
  plugin          = "sim"
  capabilities    = ["gpu", "vision", "simulation", "manufacturing"]
  capacity        = 8
  max_concurrency = 8
  price {
    base = 0.00088
  }
  attestations {
    certifications = ["Mars-Colony-Safety", "SOC2-Type-II"]
  }
}

node "helios.solaris-array" {
  shard           = "helios"
  plugin          = "sim"
  capabilities    = ["gpu", "vision", "simulation", "astronomy", "manufacturing"]
  capacity        = 8
  max_concurrency = 8
  price {
    base = 0.0012
  }
  attestations {
    certifications = ["SOC2-Type-II", "Solaris-Safety"]
  }
}

# GPU work only runs on SOC2-attested nodes.
compliance {
  policy = "!('gpu' in job.capabilities) || 'SOC2-Type-II' in node.attestations.certifications"
}
