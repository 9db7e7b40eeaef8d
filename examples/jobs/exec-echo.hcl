# Runs `echo` on an exec node (examples/mission-real.hcl; the agent config
# must enable the exec plugin with echo on its allowlist).
#   planetary job submit examples/jobs/exec-echo.hcl

job "exec-echo-1" {
  shard        = "earth"
  capabilities = ["exec"]
  kind         = "exec"
  value        = 1
  key          = "exec-echo/1"
  payload = {
    command = "echo"
    args    = ["hello from planetary"]
  }
}
