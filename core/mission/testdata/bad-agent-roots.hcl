agent {
  allowed_roots = ["reports"]
}

mission "t" {}

checkpoint {
  path = "../outside/fabric.snap"
}

schedule "move-reports" {
  at        = "1s"
  action    = "reporting.configure"
  directory = "/tmp/reports"
}
