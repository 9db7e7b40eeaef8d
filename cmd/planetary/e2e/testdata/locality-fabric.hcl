# The long-outage scenario's fabric, served by a dev agent. Shard "home"
# has its node on a second host (a -client agent the test starts and
# SIGKILLs), spills only to b then a, after a 1s spill_grace; shard c has
# room for everything but is not a target, so nothing may go there.

mission "locality" {
  seed  = 5
  owner = "Locality drill"
}

shard "home" {
  spillover_targets = ["b", "a"]
  spill_grace       = "1s"
}

shard "a" {}

shard "b" {}

shard "c" {}

node "a.1" {
  shard           = "a"
  plugin          = "sim"
  capabilities    = ["x"]
  capacity        = 2
  max_concurrency = 2
  price {
    base = 0.2
  }
}

node "b.1" {
  shard           = "b"
  plugin          = "sim"
  capabilities    = ["x"]
  capacity        = 2
  max_concurrency = 2
  price {
    base = 0.3
  }
}

node "c.1" {
  shard           = "c"
  plugin          = "sim"
  capabilities    = ["x"]
  capacity        = 50
  max_concurrency = 50
  price {
    base = 0.01
  }
}
