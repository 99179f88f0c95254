package daemon

import (
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/telegram"
)

// channelKinds are the messaging channels compiled into this build
// (WebChat is built into the channel manager).
func channelKinds() []channel.Kind {
	return []channel.Kind{telegram.Kind()}
}
