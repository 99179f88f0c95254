// Package controlui serves the Control UI (with WebChat): the single-page
// app embedded from assets/ui, at / with SPA fallback and strict security
// headers.
package controlui

import (
	"log/slog"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
)

// Deps are what the UI server needs.
type Deps struct {
	Config  func() *config.Config
	Version string
	Log     *slog.Logger
}

// Register mounts the UI on the gateway.
func Register(srv *gateway.Server, d Deps) {}
