//go:build !cgo

package store

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestOpenWithoutCgo(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "pincer.sqlite"), Options{})
	if !errors.Is(err, errNoDriver) {
		t.Fatalf("err = %v", err)
	}
}
