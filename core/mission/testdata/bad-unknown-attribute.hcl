mission "t" {}
shard "earth" {}

node "earth.n1" {
  shard    = "earth"
  capacity = 4
  colour   = "blue"
}
