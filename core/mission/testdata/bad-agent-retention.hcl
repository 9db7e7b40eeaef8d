agent {
  allowed_roots = ["checkpoints", "reports"]

  server {
    snapshot_threshold = 0
    snapshot_interval  = "0s"
  }

  event_retention {
    max_bytes     = 1048576
    archive_dir   = "/var/tmp/events"
    segment_bytes = -1
  }
}

mission "t" {}
