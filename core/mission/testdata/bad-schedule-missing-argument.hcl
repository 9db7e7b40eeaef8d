mission "t" {}
shard "earth" {}

schedule "pause-earth" {
  at     = "1s"
  action = "shard.pause"
}

schedule "add-shard" {
  at     = "2s"
  action = "shard.register"
}

schedule "deregister" {
  at     = "3s"
  action = "shard.deregister"
  shard  = "earth"
}
