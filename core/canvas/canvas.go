// Package canvas is the canvas host: agent-editable HTML under
// <stateDir>/canvas/<agentId>/ served at /__openclaw__/canvas/, the A2UI
// renderer at /__openclaw__/a2ui/, and scoped capability URLs for nodes.
package canvas

import (
	"context"
	"log/slog"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/nodes"
)

// Agents receives A2UI user actions as agent turns.
type Agents interface {
	Submit(ctx context.Context, t agent.Turn) (*agent.Ticket, error)
}

// Deps are what the canvas host needs.
type Deps struct {
	Config   func() *config.Config
	StateDir string
	Agents   Agents
	Nodes    *nodes.Service
	Log      *slog.Logger
}

// Host serves the canvas.
type Host struct{ d Deps }

// New prepares the host.
func New(d Deps) (*Host, error) { return &Host{d: d}, nil }

// Register mounts the routes and the nodes' surface URLs on the gateway.
func (h *Host) Register(srv *gateway.Server) {}

// Close stops background work (file watching, a separate port).
func (h *Host) Close() {}
