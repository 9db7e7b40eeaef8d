mission "t" {}
shard "earth" {}

retention {
  job_gc_threshold   = "0s"
  job_gc_interval    = "every minute"
  job_gc_batch       = 0
  idempotency_window = "-1h"
}
