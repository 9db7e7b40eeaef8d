mission "t" {}

shard "earth" {
  spillover_targets = ["luna", "earth"]

  spillover "earth" {
    threshold = 10
  }
}

shard "luna" {}
