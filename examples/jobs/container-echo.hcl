# Runs `echo` in the busybox image on a container node
# (examples/mission-real.hcl). Make the image first:
#   planetary image build-busybox bb.tar
#   planetary image import bb.tar planetary-busybox:1
#   planetary job submit examples/jobs/container-echo.hcl
#
# A container job also requires the capability image:<payload.image>, added
# when the job file is read, so it only goes to a node that has the image.

job "container-echo-1" {
  shard        = "earth"
  capabilities = ["container"]
  kind         = "container"
  value        = 1
  key          = "container-echo/1"
  payload = {
    image      = "localhost/planetary-busybox:1"
    command    = ["echo"]
    args       = ["hello from a container"]
    timeout_ms = 60000
  }
}
