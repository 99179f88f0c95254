// Package protocol holds the wire types of the OpenClaw Gateway protocol v4 as
// Pincer speaks it: frames, errors and their detail codes, connect params,
// hello-ok, presence, health and the event payloads, plus the params and
// results of every method the gateway implements.
//
// It imports nothing of the project; the JSON Schema in assets/schema is
// generated from these types (see protocol/schema).
package protocol

// Version is the protocol version the gateway speaks (hello-ok.protocol).
const (
	Version              = 4
	MinClientProtocol    = 4
	MinNodeProtocol      = 3
	MinProbeProtocol     = 3
	DefaultPort          = 18789
	MaxPreAuthFrameBytes = 64 * 1024
	MaxPayloadBytes      = 25 * 1024 * 1024
	MaxBufferedBytes     = 50 * 1024 * 1024
	TickIntervalMs       = 30_000
	HandshakeTimeoutMs   = 15_000
	MaxPendingHandshake  = 15
	DedupeTTLMs          = 300_000
	DedupeMaxEntries     = 1000
	HealthRefreshMs      = 60_000
	PingIntervalMs       = 25_000
)

// CompatVersion is the OpenClaw release whose wire behaviour Pincer follows.
const CompatVersion = "2026.9.6"
