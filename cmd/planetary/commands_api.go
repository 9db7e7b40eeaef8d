package main

import "github.com/hashicorp/cli"

// apiCommands are the commands that talk to the HTTP API (and the offline
// snapshot inspect next to its online siblings).
func apiCommands(m Meta) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"mission apply":                 func() (cli.Command, error) { return &MissionApplyCommand{Meta: m}, nil },
		"mission show":                  func() (cli.Command, error) { return &MissionShowCommand{Meta: m}, nil },
		"job submit":                    func() (cli.Command, error) { return &JobSubmitCommand{Meta: m}, nil },
		"job status":                    func() (cli.Command, error) { return &JobStatusCommand{Meta: m}, nil },
		"job list":                      func() (cli.Command, error) { return &JobListCommand{Meta: m}, nil },
		"job cancel":                    func() (cli.Command, error) { return &JobCancelCommand{Meta: m}, nil },
		"job reroute":                   func() (cli.Command, error) { return &JobRerouteCommand{Meta: m}, nil },
		"node list":                     func() (cli.Command, error) { return &NodeListCommand{Meta: m}, nil },
		"node status":                   func() (cli.Command, error) { return &NodeStatusCommand{Meta: m}, nil },
		"node register":                 func() (cli.Command, error) { return &NodeRegisterCommand{Meta: m}, nil },
		"node retire":                   func() (cli.Command, error) { return &NodeRetireCommand{Meta: m}, nil },
		"node update":                   func() (cli.Command, error) { return &NodeUpdateCommand{Meta: m}, nil },
		"operator shard register":       func() (cli.Command, error) { return &OperatorShardRegisterCommand{Meta: m}, nil },
		"operator shard deregister":     func() (cli.Command, error) { return &OperatorShardDeregisterCommand{Meta: m}, nil },
		"operator shard update":         func() (cli.Command, error) { return &OperatorShardUpdateCommand{Meta: m}, nil },
		"operator shard list":           func() (cli.Command, error) { return &OperatorShardListCommand{Meta: m}, nil },
		"operator shard status":         func() (cli.Command, error) { return &OperatorShardStatusCommand{Meta: m}, nil },
		"operator pause":                func() (cli.Command, error) { return &OperatorPauseCommand{Meta: m}, nil },
		"operator resume":               func() (cli.Command, error) { return &OperatorResumeCommand{Meta: m}, nil },
		"operator checkpoint configure": func() (cli.Command, error) { return &OperatorCheckpointConfigureCommand{Meta: m}, nil },
		"operator checkpoint save":      func() (cli.Command, error) { return &OperatorCheckpointSaveCommand{Meta: m}, nil },
		"operator reporting configure":  func() (cli.Command, error) { return &OperatorReportingConfigureCommand{Meta: m}, nil },
		"operator gc":                   func() (cli.Command, error) { return &OperatorGCCommand{Meta: m}, nil },
		"operator snapshot save":        func() (cli.Command, error) { return &OperatorSnapshotSaveCommand{Meta: m}, nil },
		"operator snapshot restore":     func() (cli.Command, error) { return &OperatorSnapshotRestoreCommand{Meta: m}, nil },
		"operator snapshot inspect":     func() (cli.Command, error) { return &OperatorSnapshotInspectCommand{Meta: m}, nil },
		"operator raft list-peers":      func() (cli.Command, error) { return &OperatorRaftListPeersCommand{Meta: m}, nil },
		"operator raft compact":         func() (cli.Command, error) { return &OperatorRaftCompactCommand{Meta: m}, nil },
		"operator raft remove-peer":     func() (cli.Command, error) { return &OperatorRaftRemovePeerCommand{Meta: m}, nil },
		"operator raft transfer-leader": func() (cli.Command, error) { return &OperatorRaftTransferLeaderCommand{Meta: m}, nil },
		"members":                       func() (cli.Command, error) { return &MembersCommand{Meta: m}, nil },
		"acl bootstrap":                 func() (cli.Command, error) { return &ACLBootstrapCommand{Meta: m}, nil },
		"acl token create":              func() (cli.Command, error) { return &ACLTokenCreateCommand{Meta: m}, nil },
		"acl token list":                func() (cli.Command, error) { return &ACLTokenListCommand{Meta: m}, nil },
		"acl client revoke":             func() (cli.Command, error) { return &ACLClientRevokeCommand{Meta: m}, nil },
		"ledger":                        func() (cli.Command, error) { return &LedgerCommand{Meta: m}, nil },
		"events":                        func() (cli.Command, error) { return &EventsCommand{Meta: m}, nil },
		"status":                        func() (cli.Command, error) { return &StatusCommand{Meta: m}, nil },
	}
}
