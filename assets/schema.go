// Package assets embeds the files the Pincer binaries ship with.
package assets

import "embed"

// Schema holds the generated JSON Schema of the wire protocol, under
// "schema/": one file per method's params ("method.<method>.params.json"),
// one per message shape ("<Shape>.json") and "index.json" listing them.
// The files are written by `go run ./core/protocol/schema/gen`.
//
//go:embed schema/*.json
var Schema embed.FS
