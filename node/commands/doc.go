// Package commands holds the command handlers of Pincer's node host
// (`pincer node run`): the code that answers node.invoke.request events once
// the transport has decoded them. It does no networking.
//
// Probe inspects the host and builds a Registry holding only the commands
// whose backend works here (system.*, device.*, location.get, and — when
// ffmpeg and a device are present — camera.* and screen.*, and when a
// headless Chromium starts — canvas.*). The node host
// declares Registry.Caps and Registry.Commands in its connect frame and
// routes every invoke through Registry.Invoke, which always fails with an
// *Error whose Code is sent back as the node-side error code.
//
// Wire shapes follow the OpenClaw node protocol (spec/protocol.md §8.3).
package commands
