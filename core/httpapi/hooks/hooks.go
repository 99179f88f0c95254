// Package hooks serves the webhooks (spec §10.3: /hooks/wake, /hooks/agent,
// /hooks/<name> through hooks.mappings) and tools invoke (§10.4: POST
// /tools/invoke and the tools.invoke method) on the gateway port.
package hooks

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
)

// Agents runs agent turns and single tools.
type Agents interface {
	Submit(ctx context.Context, t agent.Turn) (*agent.Ticket, error)
	InvokeTool(ctx context.Context, agentID, sessionKey, name string, args json.RawMessage, deny []string) (tools.Result, error)
}

// Heartbeat queues system events for the main session and wakes it.
type Heartbeat interface {
	Enqueue(text, sessionKey string) error
	Wake(reason string)
}

// Deps are what the endpoints need.
type Deps struct {
	Config    func() *config.Config
	Agents    Agents
	Heartbeat Heartbeat
	// Messenger delivers hook replies to channels (deliver:true).
	Messenger tools.MessageAPI
	Log       *slog.Logger
}

// Register mounts the endpoints (and tools.invoke) on the gateway.
func Register(srv *gateway.Server, d Deps) {}
