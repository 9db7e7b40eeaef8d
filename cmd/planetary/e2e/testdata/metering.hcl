# The metering scenario: one sim node whose plugin publishes a price
# schedule (base 0.1, 0.001 a token) over the mission's price block (base
# 0.02). Sim jobs report the usage their payload names, so each job's
# settlement follows from its declared units, its reported usage and its
# max price.

mission "metering" {
  seed = 7
}

plugin "sim" {
  config {
    price = 0.1
    rates = ["token=0.001"]
  }
}

shard "earth" {}

node "earth.meter" {
  shard           = "earth"
  plugin          = "sim"
  capabilities    = ["llm"]
  capacity        = 4
  max_concurrency = 4
  price {
    base = 0.02
  }
}
