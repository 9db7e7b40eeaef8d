# The acceptance drill's failing plan: the Kardashev mission (examples/mission.hcl)
# with its only GPU node down for good. Its plugin kind is served by no agent,
# so mars.gpu-helion never comes up, Mars keeps no spillover route to Helios,
# and the owner schedule also retires the node. The Mars GPU work (gpu, vision,
# simulation: no other node has all three) parks and the drill must fail:
#
#   planetary drill acceptance -plan examples/acceptance-fail.hcl   # exits 1
#
mission "kardashev-gpu-loss" {
  seed        = 42
  owner       = "Planetary Fabric Owner"
  description = "Curated workload spanning Earth, Luna, Mars and Helios to showcase sharded orchestration."
  # The one currency of every price, value and payment in the fabric.
  currency    = "USDC"
}

# ---------------------------------------------------------------- shards

shard "earth" {
  display_name          = "Earth Hypergrid"
  latency_budget_ms     = 120
  max_queue             = 6000
  queue_alert_threshold = 4200
  spillover_targets     = ["luna", "mars"]

  spillover "luna" {
    threshold = 4500
    max_drain = 50
  }
  spillover "mars" {
    threshold = 5000
    max_drain = 75
  }
}

shard "luna" {
  display_name          = "Luna Relay"
  latency_budget_ms     = 180
  max_queue             = 2400
  queue_alert_threshold = 1600
  spillover_targets     = ["earth"]

  spillover "earth" {
    threshold = 1800
    max_drain = 40
  }
}

shard "mars" {
  display_name          = "Mars Foundry"
  latency_budget_ms     = 420
  max_queue             = 4000
  queue_alert_threshold = 3000
  spillover_targets     = ["earth"]

  spillover "earth" {
    threshold             = 3200
    max_drain             = 30
    required_capabilities = ["manufacturing"]
  }
}

shard "helios" {
  display_name          = "Helios GPU Helion"
  latency_budget_ms     = 850
  max_queue             = 2200
  queue_alert_threshold = 1600
  spillover_targets     = ["mars"]

  spillover "mars" {
    threshold = 1800
    max_drain = 20
  }
}

# ----------------------------------------------------------------- nodes

node "earth.core-alpha" {
  shard           = "earth"
  plugin          = "sim"
  capabilities    = ["general", "finance", "compliance"]
  capacity        = 24
  max_concurrency = 24
  heartbeat_sec   = 12
  endpoint        = "https://earth-core-alpha.fabric.ops/api"

  deployment {
    orchestration = "kubernetes"
    runtime       = "node-lts"
    image         = "registry.agi/earth-core-alpha:2.1.0"
    version       = "2.1.0"
    entrypoint    = "/opt/agi/start-core-alpha.sh"
    zones         = ["earth-central-1a", "earth-central-1b"]
    resources {
      cpu_cores  = 32
      memory_gb  = 128
      gpu_class  = "A10"
      storage_gb = 512
    }
  }
  # Includes compliance attestation.
  price {
    currency = "USDC"
    unit     = "job"
    base     = 0.00072
  }
  attestations {
    certifications = ["SOC2-Type-II", "GDPR"]
    jurisdiction   = "earth"
    data_residency = ["earth"]
    tags           = ["finance-hub", "tier-zero"]
  }
}

node "earth.edge-europa" {
  shard           = "earth"
  plugin          = "sim"
  capabilities    = ["logistics", "iot", "edge"]
  capacity        = 16
  max_concurrency = 12
  heartbeat_sec   = 18
  endpoint        = "https://edge-europa.fabric.ops/api"

  deployment {
    orchestration = "nomad"
    runtime       = "wasm"
    image         = "registry.agi/edge-europa:3.5.2"
    version       = "3.5.2"
    entrypoint    = "/srv/bin/bootstrap"
    zones         = ["earth-edge-1"]
    resources {
      cpu_cores  = 12
      memory_gb  = 48
      storage_gb = 256
    }
  }
  price {
    currency = "USDC"
    unit     = "job"
    base     = 0.00038
  }
  attestations {
    certifications = ["ISO-27001"]
    jurisdiction   = "earth"
    data_residency = ["earth"]
    tags           = ["edge", "iot"]
  }
}

node "luna.nav-station" {
  shard           = "luna"
  plugin          = "sim"
  capabilities    = ["navigation", "observation"]
  capacity        = 12
  max_concurrency = 10
  heartbeat_sec   = 18
  endpoint        = "https://luna-nav.fabric.ops/api"

  deployment {
    orchestration = "kubernetes"
    runtime       = "python-3.11"
    image         = "registry.agi/luna-nav-station:1.2.8"
    version       = "1.2.8"
    entrypoint    = "/opt/agi/luna-nav.sh"
    zones         = ["luna-orbit-a"]
    resources {
      cpu_cores  = 10
      memory_gb  = 32
      storage_gb = 128
    }
  }
  price {
    currency = "USDC"
    unit     = "job"
    base     = 0.00028
  }
  attestations {
    certifications = ["Lunar-Safety-Standard"]
    jurisdiction   = "luna"
    data_residency = ["luna"]
    tags           = ["luna", "relay"]
  }
}

node "mars.regolith-cradle" {
  shard           = "mars"
  plugin          = "sim"
  capabilities    = ["manufacturing", "terraforming"]
  capacity        = 18
  max_concurrency = 14
  heartbeat_sec   = 20
  endpoint        = "https://mars-regolith.fabric.ops/api"

  deployment {
    orchestration = "nomad"
    runtime       = "rust-optimized"
    image         = "registry.agi/mars-regolith:4.0.0"
    version       = "4.0.0"
    entrypoint    = "/opt/agi/regolith.sh"
    zones         = ["mars-foundry-a", "mars-foundry-b"]
    resources {
      cpu_cores  = 20
      memory_gb  = 72
      storage_gb = 384
    }
  }
  price {
    currency = "USDC"
    unit     = "job"
    base     = 0.00055
  }
  attestations {
    certifications = ["Mars-Colony-Safety"]
    jurisdiction   = "mars"
    data_residency = ["mars"]
    tags           = ["manufacturing", "mars"]
  }
}

node "mars.gpu-helion" {
  shard           = "mars"
  # No agent serves this plugin kind: the node is down from the start.
  plugin          = "gpu-decommissioned"
  capabilities    = ["gpu", "vision", "simulation"]
  capacity        = 32
  max_concurrency = 20
  heartbeat_sec   = 10
  endpoint        = "https://mars-gpu-helion.fabric.ops/api"

  deployment {
    orchestration = "kubernetes"
    runtime       = "cuda"
    image         = "registry.agi/mars-gpu-helion:5.3.1"
    version       = "5.3.1"
    entrypoint    = "/opt/agi/run-gpu.sh"
    zones         = ["mars-gpu-east"]
    resources {
      cpu_cores  = 40
      memory_gb  = 160
      gpu_class  = "A100"
      storage_gb = 512
    }
  }
  # High-priority GPU lane.
  price {
    currency = "USDC"
    unit     = "job"
    base     = 0.00088
  }
  attestations {
    certifications = ["Mars-Colony-Safety", "SOC2-Type-II"]
    jurisdiction   = "mars"
    data_residency = ["mars"]
    tags           = ["gpu", "critical"]
  }
}

node "helios.solaris-array" {
  shard           = "helios"
  plugin          = "sim"
  capabilities    = ["gpu", "astronomy"]
  capacity        = 28
  max_concurrency = 18
  heartbeat_sec   = 9
  endpoint        = "https://helios-solaris.fabric.ops/api"

  deployment {
    orchestration = "kubernetes"
    runtime       = "cuda"
    image         = "registry.agi/helios-solaris:6.2.0"
    version       = "6.2.0"
    entrypoint    = "/opt/agi/launch-helion.sh"
    zones         = ["helios-array-a", "helios-array-b"]
    resources {
      cpu_cores  = 36
      memory_gb  = 144
      gpu_class  = "H100"
      storage_gb = 512
    }
  }
  # Premium solar analytics lane.
  price {
    currency = "USDC"
    unit     = "job"
    base     = 0.0012
  }
  attestations {
    certifications = ["SOC2-Type-II", "Solaris-Safety"]
    jurisdiction   = "helios"
    data_residency = ["helios"]
    tags           = ["helios", "premium"]
  }
}

# --------------------------------------------------------------- policy

# GPU work only runs on SOC2-attested nodes.
compliance {
  policy = "!('gpu' in job.capabilities) || 'SOC2-Type-II' in node.attestations.certifications"
}

checkpoint {
  interval = "200ms" # 20 ticks
  path     = "checkpoints/kardashev.snap"
}

reporting {
  directory = "reports"
  label     = "latest"
}

# ------------------------------------------------------------- workloads

workload "earth-finance" {
  shard        = "earth"
  count        = 1200
  capabilities = ["finance", "compliance"]
  duration_ms  = 3
  value        = 2500
  value_step   = 25
  note         = "High-value regulatory reviews"
}

workload "earth-logistics" {
  shard        = "earth"
  count        = 800
  capabilities = ["logistics", "edge"]
  duration_ms  = 2
  value        = 1800
  value_step   = 10
}

workload "luna-nav" {
  shard        = "luna"
  count        = 600
  capabilities = ["navigation", "observation"]
  duration_ms  = 4
  value        = 2100
  note         = "Orbital telemetry harmonisation"
}

workload "mars-foundry" {
  shard        = "mars"
  count        = 1400
  capabilities = ["manufacturing", "terraforming"]
  duration_ms  = 5
  value        = 3200
  value_step   = 15
}

workload "mars-gpu" {
  shard        = "mars"
  count        = 1000
  capabilities = ["gpu", "vision", "simulation"]
  duration_ms  = 6
  value        = 3600
  value_step   = 20
  note         = "GPU-heavy inference jobs reroute to Helios on outage"
}

workload "helios-astronomy" {
  shard        = "helios"
  count        = 800
  capabilities = ["gpu", "astronomy"]
  duration_ms  = 7
  value        = 4000
}

# ---------------------------------------------------------- owner schedule

schedule "edge-surge-up" {
  at     = "900ms"
  note   = "Spin up emergency edge shard to absorb surge"
  reason = "Provision edge spillway during surge"
  action = "shard.register"

  shard "edge-surge" {
    display_name          = "Edge Surge Lattice"
    latency_budget_ms     = 140
    max_queue             = 1800
    queue_alert_threshold = 1200
    spillover_targets     = ["earth", "luna"]

    spillover "earth" {
      threshold = 1350
      max_drain = 60
    }
    spillover "luna" {
      threshold = 1500
      max_drain = 40
    }
  }
}

schedule "helios-recalibration-pause" {
  at     = "1.2s"
  note   = "Pause the full fabric while Helios GPUs recalibrate"
  reason = "Helios GPU thermal recalibration"
  action = "system.pause"
}

schedule "helios-recalibration-resume" {
  at     = "1.5s"
  note   = "Resume once calibration completes"
  reason = "Calibration complete"
  action = "system.resume"
}

schedule "earth-queue-boost" {
  at                    = "1.55s"
  note                  = "Boost Earth queue budget to handle backlog"
  action                = "shard.update"
  shard                 = "earth"
  max_queue             = 6400
  queue_alert_threshold = 3600
}

schedule "helios-backup-helion" {
  at     = "1.8s"
  note   = "Introduce Helios backup GPU helion"
  reason = "Spin up reserve GPU helion"
  action = "node.register"

  node "helios.solaris-backup" {
    shard           = "helios"
    plugin          = "sim"
    capabilities    = ["gpu", "astronomy"]
    capacity        = 20
    max_concurrency = 12
    heartbeat_sec   = 9
    endpoint        = "https://helios-backup.fabric.ops/api"

    deployment {
      orchestration = "kubernetes"
      runtime       = "cuda"
      image         = "registry.agi/helios-gpu-worker:1.4.0"
      version       = "1.4.0"
      entrypoint    = "/opt/agi/run-helion.sh"
      zones         = ["helios-gateway-a", "helios-gateway-b"]
      resources {
        cpu_cores  = 24
        memory_gb  = 96
        gpu_class  = "A100"
        storage_gb = 320
      }
    }
    # Backup GPU lane.
    price {
      currency = "USDC"
      unit     = "job"
      base     = 0.00094
    }
    attestations {
      certifications = ["SOC2-Type-II", "Solaris-Safety"]
      jurisdiction   = "helios"
      data_residency = ["helios"]
      tags           = ["gpu", "backup"]
    }
  }
}

schedule "post-governance-snapshot" {
  at     = "2.2s"
  note   = "Snapshot the fabric after governance actions"
  reason = "Archive post-update state"
  action = "checkpoint.save"
}

schedule "solar-storm-cadence" {
  at       = "2.6s"
  note     = "Tighten checkpoint cadence during solar storm"
  reason   = "Increase redundancy"
  action   = "checkpoint.configure"
  interval = "200ms" # 20 ticks
  path     = "checkpoints/solar-storm.snap"
}

schedule "governance-archive" {
  at        = "2.7s"
  note      = "Retarget reporting outputs to governance archive"
  reason    = "Stream artifacts to dedicated governance bucket"
  action    = "reporting.configure"
  directory = "reports/governance-archive"
  label     = "governance-drill"
}

schedule "mars-escalation" {
  at        = "2.8s"
  note      = "Reroute urgent Mars manufacturing job to Helios"
  reason    = "Owner escalation to Helios GPU helion"
  action    = "job.reroute"
  shard     = "mars"
  tail      = 1
  offset    = 8
  in_flight = true
  target    = "helios"
}

schedule "earth-logistics-cancel" {
  at        = "2.85s"
  note      = "Cancel redundant Earth logistics job after reroute"
  reason    = "Owner resolved ticket manually"
  action    = "job.cancel"
  shard     = "earth"
  tail      = 1
  offset    = 4
  in_flight = true
}

schedule "edge-surge-down" {
  at     = "3s"
  note   = "Retire the emergency edge shard once demand normalises"
  reason = "Consolidate capacity after surge"
  action = "shard.deregister"
  shard  = "edge-surge"
  mode   = "spillover"
  target = "earth"
}

schedule "gpu-helion-decommission" {
  at      = "600ms"
  note    = "Decommission the crashed Mars GPU helion"
  reason  = "Hardware lost in the outage"
  action  = "node.retire"
  node    = "mars.gpu-helion"
  requeue = true
}

# ------------------------------------------------------------------ plan

plan {
  jobs        = 5800 # the reference plan asks for 10,000; its blueprint fixes 5,800
  outage_node = "mars.gpu-helion"
  outage_at   = "450ms"  # 45 ticks
  stop_after  = "40%"    # the restart drill kills its agent once 40% of the jobs completed
  label       = "acceptance-fail"
  deadline    = "2m"
}
