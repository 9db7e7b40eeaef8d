# One simulated job on Earth.
#   planetary job submit examples/jobs/hello.hcl
job "hello-earth" {
  shard        = "earth"
  capabilities = ["general"]
  value        = 10
  kind         = "sim"
  payload = {
    duration_ms = 5
  }
}
