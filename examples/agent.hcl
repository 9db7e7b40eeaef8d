# A single-host development agent: server and client roles in one process,
# serving every mission node with the built-in plugins.
#
#   planetary agent -config examples/agent.hcl

agent {
  name          = "dev"
  data_dir      = "data/dev"
  log_level     = "info"
  log_json      = false
  http_addr     = "127.0.0.1:4646"
  allowed_roots = ["reports", "checkpoints"]

  server {
    enabled          = true
    bind             = "127.0.0.1:4647"
    bootstrap_expect = 1
  }

  client {
    enabled            = true
    servers            = ["127.0.0.1:4646"]
    nodes              = ["*"] # glob patterns of mission node ids served here
    heartbeat_interval = "1s"
  }

  acl {
    enabled = true
  }
}

# Built-in plugins (no path): served by the planetary binary itself.
plugin "sim" {}

# The exec plugin runs host commands, so it is off unless enabled here, and
# only the listed executables may run.
plugin "exec" {
  config {
    enabled = true
    allow   = ["echo", "sh", "true"]
  }
}

plugin "gpu" {}
plugin "inference" {}
plugin "compliance" {}
plugin "container" {}

# An external plugin is pinned by the SHA-256 of its executable:
#
# plugin "geo" {
#   path   = "./bin/geo-agent"
#   sha256 = "<64 hex digits>"
#   config {
#     region = "earth"
#   }
# }
