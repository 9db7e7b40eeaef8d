# Two sim nodes in one shard, for plugin process tests.
mission "two-sim" {
  seed = 3
}

shard "earth" {
  latency_budget_ms = 1000
}

node "earth.a" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 4
  price {
    base = 0.1
  }
}

node "earth.b" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 4
  price {
    base = 0.2
  }
}
