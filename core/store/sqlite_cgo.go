//go:build cgo

package store

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

const (
	driverName      = "sqlite3"
	driverAvailable = true
)

var errNoDriver error

// dsn builds a file: URI so that any character in the path survives, with
// the per-connection settings go-sqlite3 applies to every pooled connection
// (a PRAGMA run once on one connection would not reach the others).
func dsn(path string, opt Options) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive paths: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(opt.BusyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	// Take the write lock at BEGIN: a deferred transaction that later
	// upgrades to a writer can fail with SQLITE_BUSY without waiting.
	q.Set("_txlock", "immediate")
	u.RawQuery = q.Encode()
	return u.String()
}

func isDriverCorrupt(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt
	}
	return false
}
