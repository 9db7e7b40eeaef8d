mission "t" {}
shard "earth" {}

node "earth.n1" {
  shard    = "earth"
  capacity = 4
}

node "earth.n1" {
  shard    = "earth"
  capacity = 8
}
