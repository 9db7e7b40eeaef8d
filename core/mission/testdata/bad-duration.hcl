mission "t" {}
shard "earth" {}

checkpoint {
  interval = "thirty seconds"
}

plan {
  outage_at  = "-5s"
  stop_after = "150%"
}
