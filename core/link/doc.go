// Package link carries messages between regions without raft between them.
//
// A region is one raft group. Regions exchange ledger checkpoints,
// cross-region job hand-offs and owner commands over links whose one-way
// latency can be seconds or minutes and which can partition, so they do not
// share a raft log: a Link is a directed, ordered, store-and-forward channel
// from one region to another, and every message on it is applied exactly once
// by the receiving region.
//
// Both ends keep their cursor in durable state, never only in memory. The
// sending region's Outbox holds its messages with a link-local sequence number
// (1-based, gapless); the receiving region's Inbox applies a batch
// idempotently and answers the highest sequence number it has applied, its
// "through". The sender keeps no cursor of its own that it could lose: it
// learns the receiver's through from the first answer after it starts (an
// empty batch, the probe), sends Pending(through) and retransmits from the
// last through it was told until a later one comes back, with a backoff
// between failures. A message is therefore never lost (the Outbox holds it
// until an answer covers it) and never applied twice (the Inbox skips every
// seq at or below its through), across drops, duplicates, partitions and
// restarts of either side.
//
// A Transport moves one batch and its answer: Local within one process (the
// dev agent hosts every region), HTTP between hosts (Handler serves
// POST /v1/link/{from}; HTTPTransport sends to it). Faulty wraps either with
// injected latency, partitions, drops and duplicates. A Mesh runs one Link per
// ordered pair of regions for a host. Store is a BoltDB-backed Outbox and
// Inbox for a region that has no replicated one yet.
package link
