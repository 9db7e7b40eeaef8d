mission "m" {
  currency = "USDC"
}

shard "earth" {}

node "earth.a" {
  shard    = "earth"
  plugin   = "sim"
  capacity = 1
  price {
    currency = "USDC"
    base     = 0.1
  }
}

node "earth.b" {
  shard    = "earth"
  plugin   = "sim"
  capacity = 1
  price {
    currency = "EUR"
    base     = 0.1
  }
}
