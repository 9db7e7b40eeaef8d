# The drain scenario's fabric, served by a dev agent: one shard with two
# nodes of two slots each, so a drained node's work has somewhere to go.

mission "drain" {
  seed  = 11
  owner = "Drain drill"
}

shard "earth" {}

node "earth.a" {
  shard           = "earth"
  plugin          = "sim"
  capabilities    = ["x"]
  capacity        = 2
  max_concurrency = 2
  price {
    base = 0.1
  }
}

node "earth.b" {
  shard           = "earth"
  plugin          = "sim"
  capabilities    = ["x"]
  capacity        = 2
  max_concurrency = 2
  price {
    base = 0.2
  }
}
