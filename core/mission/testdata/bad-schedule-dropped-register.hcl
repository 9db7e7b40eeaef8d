mission "t" {}
shard "earth" {}

schedule "use-edge" {
  at     = "2s"
  action = "shard.pause"
  shard  = "edge"
}

schedule "add-edge" {
  at     = "3s"
  action = "shard.register"
  shard "edge" {}
}

# A second entry of the same name is refused, and so is the shard it
# would register: use-edge's reference is checked against the first
# add-edge only, which comes after it.
schedule "add-edge" {
  at     = "0s"
  action = "shard.register"
  shard "edge" {}
}
