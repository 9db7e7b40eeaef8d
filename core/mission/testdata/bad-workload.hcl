mission "t" {}
shard "earth" {}

node "earth.n1" {
  shard        = "earth"
  capacity     = 2
  capabilities = ["cpu"]
}

workload "a" {
  shard        = "earth"
  count        = 10
  capabilities = ["gpu"]
  value        = 1
}

workload "b" {
  shard     = "earth"
  count     = 1.5
  id_prefix = "a"
}
