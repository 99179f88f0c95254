//go:build !cgo

package store

import "errors"

const (
	driverName      = ""
	driverAvailable = false
)

var errNoDriver = errors.New("store: this Pincer binary was built without cgo, so the SQLite state store is unavailable; rebuild with CGO_ENABLED=1")

func dsn(string, Options) string { return "" }

func isDriverCorrupt(error) bool { return false }
