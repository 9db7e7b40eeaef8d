mission "t" {}
shard "earth" {}

schedule "warp" {
  at     = "1s"
  action = "fleet.warp"
}

schedule "twice" {
  at              = "1s"
  after_completed = 10
  action          = "system.pause"
}

schedule "never" {
  action = "system.resume"
}
