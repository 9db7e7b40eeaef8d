mission "t" {}
shard "earth" {}

schedule "use-edge" {
  at     = "1s"
  action = "shard.pause"
  shard  = "edge"
}

schedule "add-edge" {
  at     = "2s"
  action = "shard.register"
  shard "edge" {
    spillover_targets = ["earth"]
  }
}

schedule "resume-edge" {
  at     = "3s"
  action = "shard.resume"
  shard  = "edge"
}
