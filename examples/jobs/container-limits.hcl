# Container jobs that show the limits and failure modes of the container
# agent (examples/mission-real.hcl, image from examples/jobs/container-echo.hcl).
#   planetary job submit examples/jobs/container-limits.hcl

# Fails with exit code 3: the job's status shows "exit status 3".
job "container-exit-3" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  value        = 1
  key          = "container-limits/exit-3"
  payload = {
    image   = "localhost/planetary-busybox:1"
    command = ["sh", "-c", "echo failing; exit 3"]
  }
}

# Sleeps past its timeout: stopped (SIGTERM, stop_grace, SIGKILL), removed,
# and failed with "timed out after 2s".
job "container-timeout" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  value        = 1
  key          = "container-limits/timeout"
  payload = {
    image      = "localhost/planetary-busybox:1"
    command    = ["sleep", "30"]
    timeout_ms = 2000
  }
}

# Limits and environment: half a CPU, 64 MiB, 32 processes.
job "container-limited" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  value        = 1
  key          = "container-limits/limited"
  payload = {
    image     = "localhost/planetary-busybox:1"
    command   = ["sh", "-c", "echo $GREETING from $(pwd)"]
    env       = { GREETING = "hello" }
    workdir   = "/tmp"
    cpus      = 0.5
    memory_mb = 64
    pids      = 32
  }
}
