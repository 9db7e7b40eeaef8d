# One shard with one sim node, for the health model test. The "quantum"
# workload needs a capability no node has, so its jobs park; the health
# test drops that workload for its clean run.
mission "health" {
  seed = 5
}

shard "earth" {
  latency_budget_ms = 1000
}

node "earth.a" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 8
  price {
    base = 0.1
  }
}

workload "earth-sim" {
  shard        = "earth"
  count        = 40
  capabilities = ["sim"]
  duration_ms  = 1
  value        = 1
}

workload "earth-quantum" {
  shard        = "earth"
  count        = 3
  capabilities = ["quantum"]
  duration_ms  = 1
  value        = 1
}

plan {
  label    = "health"
  deadline = "1m"
}
