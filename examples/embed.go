// Package examples embeds the example mission, agent config and job files,
// so the planetary binary can start its dev agent with no files on disk.
package examples

import _ "embed"

// MissionHCL is examples/mission.hcl: the Kardashev mission.
//
//go:embed mission.hcl
var MissionHCL []byte

// AgentHCL is examples/agent.hcl: the single-host dev agent config.
//
//go:embed agent.hcl
var AgentHCL []byte

// MissionFile and AgentFile name the embedded files in diagnostics.
const (
	MissionFile = "examples/mission.hcl"
	AgentFile   = "examples/agent.hcl"
)

// PartitionDrillHCL is examples/partition-drill.hcl: the four-region fabric
// of planetary drill partition.
//
//go:embed partition-drill.hcl
var PartitionDrillHCL []byte
