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
# only the listed executables may run. Shells and interpreters (sh, bash,
# python, perl, env, ...) are refused in allow unless allow_interpreters =
# true, which lets any job run any code. A command sees only PATH, HOME,
# USER, LOGNAME, TZ, TMPDIR and the locale variables of the agent's
# environment, plus the env its job declares (LD_* and other loader or
# interpreter hooks dropped); a job's timeout_ms may not exceed
# max_timeout_ms (default one hour).
plugin "exec" {
  config {
    enabled = true
    allow   = ["echo", "true"]
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
