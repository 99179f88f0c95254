package assets

import (
	"embed"
	"io/fs"
)

// uiFiles holds the Control UI (with WebChat) as it is served: plain HTML,
// CSS and ES modules, with no build step. Dot- and underscore-files are
// left out so stray editor files never ship.
//
//go:embed ui
var uiFiles embed.FS

// UI is the Control UI's file tree, rooted at its index.html.
var UI fs.FS = mustSub(uiFiles, "ui")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
