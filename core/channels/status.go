// Package channels will run the messaging channels under supervision; for
// now it answers channels.status with the registered channel kinds (none
// are compiled in yet), in the shape clients render.
package channels

import (
	"context"
	"time"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

// Registry knows the channel kinds and their accounts.
type Registry struct{}

// Register adds channels.status.
func (r *Registry) Register(srv *gateway.Server) {
	srv.Register(gateway.Method{Name: "channels.status", Scope: protocol.ScopeRead, Handler: r.status})
}

// Health is the channels part of the health snapshot.
func (r *Registry) Health() (map[string]any, []string, map[string]string) {
	return map[string]any{}, []string{}, map[string]string{}
}

func (r *Registry) status(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ChannelsStatusParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if p.Channel != "" {
		return nil, protocol.InvalidRequest("unknown channel: " + p.Channel)
	}
	return protocol.ChannelsStatusResult{
		Ts: time.Now().UnixMilli(), ChannelOrder: []string{}, ChannelLabels: map[string]string{},
		ChannelDetailLabels: map[string]string{}, ChannelSystemImages: map[string]string{},
		ChannelMeta: []protocol.ChannelMeta{}, Channels: map[string]any{},
		ChannelAccounts: map[string][]protocol.ChannelAccount{}, ChannelDefaultAccountID: map[string]string{},
		StatusIssues: []protocol.ChannelStatusIssue{},
	}, nil
}
