mission "t" {}
shard "earth" {}

node "earth.n1" {
  shard    = "earth"
  capacity = -3
  price {
    base = -1.5
  }
}
