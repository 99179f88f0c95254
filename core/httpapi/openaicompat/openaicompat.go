// Package openaicompat serves the OpenAI-compatible HTTP API on the gateway
// port (spec §10.2): /v1/chat/completions, /v1/models, /v1/responses.
package openaicompat

import (
	"context"
	"log/slog"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
)

// Agents runs agent turns.
type Agents interface {
	Submit(ctx context.Context, t agent.Turn) (*agent.Ticket, error)
}

// Deps are what the API needs.
type Deps struct {
	Config func() *config.Config
	Agents Agents
	Log    *slog.Logger
}

// Register mounts the endpoints on the gateway.
func Register(srv *gateway.Server, d Deps) {}
