# The partition drill's fabric (planetary drill partition): four regions,
# each one shard with two sim nodes, no owner schedule, so every job the
# drill submits runs in its own region and completes exactly once. The
# drill runs it with agent -dev -regions: each region its own raft group,
# the links between them carrying latency and a cut of mars.

mission "partition-drill" {
  seed  = 42
  owner = "Partition drill"
}

shard "earth" {}

shard "luna" {}

shard "mars" {}

shard "helios" {}

node "earth.a" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}

node "earth.b" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}

node "luna.a" {
  shard        = "luna"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}

node "luna.b" {
  shard        = "luna"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}

node "mars.a" {
  shard        = "mars"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}

node "mars.b" {
  shard        = "mars"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}

node "helios.a" {
  shard        = "helios"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}

node "helios.b" {
  shard        = "helios"
  plugin       = "sim"
  capabilities = ["drill"]
  capacity     = 16
  price {
    base = 0.01
  }
}
