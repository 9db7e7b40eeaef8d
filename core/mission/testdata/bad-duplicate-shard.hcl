mission "t" {}
shard "earth" {}

shard "earth" {
  max_queue = 10
}
