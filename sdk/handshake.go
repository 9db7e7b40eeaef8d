package sdk

import "github.com/hashicorp/go-plugin"

// ProtocolVersion is the wire major of the plugin protocol
// (sdk/proto/agent/v1/agent.proto). It changes only on a breaking proto
// change; the host then serves N and N-1 for a while.
//
// History:
//   - 1: initial protocol: Info, Schema, Configure, Health, Fingerprint
//     (server stream), PriceSchedule, Attest, Execute (one bidirectional
//     stream per plugin).
const ProtocolVersion = 1

// API versions inside protocol version 1. An agent lists the ones it
// supports in Info.APIVersions; the host picks the highest it also supports.
//
// History:
//   - v1: the Agent contract of this package as first released.
const (
	APIVersion1 = "v1"
	// APIVersionLatest is what agents built with this SDK support by default.
	APIVersionLatest = APIVersion1
)

// SupportedAPIVersions are the API versions this SDK's host side speaks,
// oldest first.
func SupportedAPIVersions() []string { return []string{APIVersion1} }

// PluginName is the name under which the agent is dispensed over go-plugin.
const PluginName = "agent"

// Handshake is shared by the host and every plugin. The magic cookie is a
// UX feature, not a security measure: it only makes a plugin binary that is
// run by hand print a helpful message instead of waiting for a host. The
// binary's integrity is checked by the host's sha256 pin and the connection
// is authenticated with mutual TLS (see Serve).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PLANETARY_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "5f8a0c2ee1b94a7d9d33c7a0e7a1f4b6d2c8e9b3a6f1d0c4",
}
