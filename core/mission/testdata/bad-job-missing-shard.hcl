job "j1" {
  capabilities = ["gpu"]
  value        = 1.5
}

job "j2" {
  shard   = "earth"
  payload = "not an object"
}

job "j2" {
  shard = "earth"
}
