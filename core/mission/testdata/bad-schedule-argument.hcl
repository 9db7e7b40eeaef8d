mission "t" {}
shard "earth" {}

schedule "retire" {
  at       = "1s"
  action   = "node.retire"
  node     = "earth.n9"
  capacity = 4
}

schedule "reroute" {
  at     = "2s"
  action = "job.reroute"
  shard  = "earth"
  target = "earth"
  tail   = "many"
}
