package client

import (
	"encoding/json"

	"github.com/pincerhq/pincer/core/protocol"
)

// wireConnectParams is protocol.ConnectParams with the key order the official
// Node client writes (minProtocol, maxProtocol, client, caps, …, auth, role,
// scopes, device) and with caps and scopes always present as arrays, as the
// official CLI and node host send them. A test keeps its field set in step
// with protocol.ConnectParams.
type wireConnectParams struct {
	MinProtocol  int                           `json:"minProtocol"`
	MaxProtocol  int                           `json:"maxProtocol"`
	Client       protocol.ClientInfo           `json:"client"`
	Caps         []string                      `json:"caps"`
	Commands     []string                      `json:"commands,omitempty"`
	Permissions  map[string]bool               `json:"permissions,omitempty"`
	PathEnv      *string                       `json:"pathEnv,omitempty"`
	ComputerUse  json.RawMessage               `json:"computerUse,omitempty"`
	WorkerRuns   *protocol.WorkerRuns          `json:"workerRuns,omitempty"`
	ModelCatalog *protocol.ModelCatalogRequest `json:"modelCatalog,omitempty"`
	Auth         *protocol.ConnectAuth         `json:"auth,omitempty"`
	Role         string                        `json:"role,omitempty"`
	Scopes       []string                      `json:"scopes"`
	Device       *protocol.DeviceProof         `json:"device,omitempty"`
	Locale       *string                       `json:"locale,omitempty"`
	UserAgent    *string                       `json:"userAgent,omitempty"`
}

func marshalConnectParams(p *protocol.ConnectParams) (json.RawMessage, error) {
	w := wireConnectParams{
		MinProtocol:  p.MinProtocol,
		MaxProtocol:  p.MaxProtocol,
		Client:       p.Client,
		Caps:         p.Caps,
		Commands:     p.Commands,
		Permissions:  p.Permissions,
		PathEnv:      p.PathEnv,
		ComputerUse:  p.ComputerUse,
		WorkerRuns:   p.WorkerRuns,
		ModelCatalog: p.ModelCatalog,
		Auth:         p.Auth,
		Role:         p.Role,
		Scopes:       p.Scopes,
		Device:       p.Device,
		Locale:       p.Locale,
		UserAgent:    p.UserAgent,
	}
	if w.Caps == nil {
		w.Caps = []string{}
	}
	if w.Scopes == nil {
		w.Scopes = []string{}
	}
	return json.Marshal(w)
}
