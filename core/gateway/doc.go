// Package gateway is the transport of the Pincer gateway: one TCP port that
// serves HTTP and the OpenClaw protocol v4 WebSocket (upgrade on any path),
// the connection lifecycle (challenge, handshake limits, shared-secret auth,
// locality, scopes), the dispatcher, per-socket seq, the broadcaster with its
// scope guards, presence, the health snapshot cache and the tick, ping and
// health timers.
//
// It knows no domain: packages such as system, config, nodes or agent
// register their methods (Register) and events (RegisterEvent) with it.
package gateway
