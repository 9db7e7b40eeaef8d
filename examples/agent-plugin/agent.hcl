# Agent config fragment: one node served by the echo-reverse plugin.
# Build it with `go build -o /opt/planetary/plugins/echo-reverse .` and pin the
# binary: `sha256sum /opt/planetary/plugins/echo-reverse`.
node "edge-1" {
  shard = "eu-west"

  plugin "echo-reverse" {
    path   = "/opt/planetary/plugins/echo-reverse"
    sha256 = "replace-with-the-output-of-sha256sum"

    config {
      uppercase = true
      price_mu  = 2500
    }
  }
}
