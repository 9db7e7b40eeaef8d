mission "t" {}
shard "earth" {}

node "venus.n1" {
  shard    = "venus"
  capacity = 4
}

workload "w" {
  shard = "pluto"
  count = 1
}
