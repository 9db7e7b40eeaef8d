mission "t" {}
shard "earth" {}

node "earth.n1" {
  shard        = "earth"
  capacity     = "lots"
  capabilities = "gpu"
}
