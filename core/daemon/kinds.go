package daemon

import "github.com/pincerhq/pincer/core/channels/channel"

// channelKinds are the messaging channels compiled into this build
// (WebChat is built into the channel manager).
func channelKinds() []channel.Kind {
	return nil
}
