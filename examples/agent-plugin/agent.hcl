# Agent config fragment that loads the echo-reverse plugin.
#
#   go build -o ./bin/echo-reverse ./examples/agent-plugin
#   sha256sum ./bin/echo-reverse
#
# A node in the mission then names the plugin (plugin = "echo-reverse").
plugin "echo-reverse" {
  path   = "./bin/echo-reverse"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000" # replace with sha256sum's output

  config {
    uppercase = true
    price_mu  = 2500
  }
}
