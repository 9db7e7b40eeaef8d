# A few simulated jobs across the Kardashev shards (examples/mission.hcl).
#   planetary job submit examples/jobs/batch.hcl

job "batch-finance-1" {
  shard        = "earth"
  capabilities = ["finance", "compliance"]
  priority     = 5
  value        = 2500
  max_price    = 0.01
  key          = "batch/finance/1"
  payload = {
    duration_ms = 3
  }
}

job "batch-nav-1" {
  shard        = "luna"
  capabilities = ["navigation"]
  value        = 2100
  key          = "batch/nav/1"
  payload = {
    duration_ms = 4
  }
}

job "batch-foundry-1" {
  shard        = "mars"
  capabilities = ["manufacturing"]
  value        = 3200
  key          = "batch/foundry/1"
  payload = {
    duration_ms = 5
  }
}

job "batch-astronomy-1" {
  shard        = "helios"
  capabilities = ["gpu", "astronomy"]
  priority     = 10
  value        = 4000
  key          = "batch/astronomy/1"
  payload = {
    duration_ms = 7
    target      = "Proxima b"
  }
}
