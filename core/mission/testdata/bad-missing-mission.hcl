shard "earth" {}
