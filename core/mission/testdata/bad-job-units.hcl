job "summarize-1" {
  shard = "earth"
  units = { token = -800 }
}

job "summarize-2" {
  shard = "earth"
  units = { token = "many" }
}

job "summarize-3" {
  shard = "earth"
  units = 800
}
