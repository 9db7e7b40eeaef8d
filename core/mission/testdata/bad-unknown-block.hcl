mission "t" {}
shard "earth" {}

galaxy "andromeda" {
  distance = 2.5
}
