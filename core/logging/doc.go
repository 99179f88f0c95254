// Package logging sets up the gateway's structured log and serves it back to
// clients.
//
// The file is JSON lines because logs.tail hands raw lines to the Control UI
// and to `openclaw logs`, which parse them: records therefore carry "time",
// "level" and "message" keys the way OpenClaw's own log does. The file rotates
// by size so a long-running daemon cannot fill the disk, and every record is
// written with a single write so rotation and tailing only ever see whole
// lines. The console gets a short human-readable form instead, since it is
// read by a person watching a foreground gateway.
package logging
