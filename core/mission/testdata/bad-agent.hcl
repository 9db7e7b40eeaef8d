agent {
  log_level = "loud"
  http_port = 4646

  tls {
    ca_file = "ca.pem"
  }
}

plugin "geo" {
  path = "./bin/geo"
}

plugin "sim" {
  sha256 = "abc"
}

plugin "exec" {
  config {
    allow = [1, [2]]
  }
}
