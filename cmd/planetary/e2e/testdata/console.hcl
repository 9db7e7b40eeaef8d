# A fabric for the console's browser test: two shards of sim nodes, and a
# node whose external plugin is pinned by a sha256 that does not match, so
# its plugin is refused. The test submits work through the API: sim jobs
# complete, jobs needing "quantum" (no node has it) park.
mission "console" {
  seed = 3
}

# A file that declares plugins serves only those: sim is declared too.
plugin "sim" {}

plugin "pinned-tool" {
  path   = "/bin/true"
  sha256 = "abababababababababababababababababababababababababababababababab"
}

shard "earth" {
  latency_budget_ms = 1000
}

shard "mars" {
  latency_budget_ms = 1000
}

node "earth.a" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 4
  price {
    base = 0.25
  }
}

node "mars.b" {
  shard        = "mars"
  plugin       = "sim"
  capabilities = ["sim"]
  capacity     = 4
  price {
    base = 0.5
  }
}

node "earth.pinned" {
  shard        = "earth"
  plugin       = "pinned-tool"
  capabilities = ["tool"]
  capacity     = 1
}
