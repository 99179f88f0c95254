// Package secrets keeps the client side's small secrets (the device private
// key, device tokens) in the platform's secret store: the login Keychain on
// macOS, the Secret Service (gnome-keyring, KWallet) on a Linux desktop, and
// a 0600 JSON file in the state directory everywhere else (headless servers,
// CI, containers).
package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotFound is returned by Get for a key that holds no secret.
var ErrNotFound = errors.New("secrets: not found")

// Store is a flat key → secret map. Delete of an absent key is not an error.
// Implementations are safe for concurrent use.
type Store interface {
	Get(key string) (string, error)
	Set(key, value string) error
	Delete(key string) error
	// Backend names the implementation: "keychain", "keyring", "file" or
	// "memory".
	Backend() string
}

// Backend names, also the values of EnvBackend.
const (
	BackendKeychain = "keychain"
	BackendKeyring  = "keyring"
	BackendFile     = "file"
	BackendMemory   = "memory"
)

// EnvBackend forces a backend ("file", "keyring" or "keychain"); Open fails
// when the forced one is unavailable instead of falling back.
const EnvBackend = "PINCER_SECRETS_BACKEND"

// FileName is the file store's name inside <stateDir>/credentials.
const FileName = "secrets.json"

// FilePath is where Open puts the file store for a state directory.
func FilePath(stateDir string) string {
	return filepath.Join(stateDir, "credentials", FileName)
}

// Open picks the store for this machine. service names the Keychain /
// Secret Service entries (e.g. "ai.pincer.default"); the file store lives in
// stateDir and ignores it.
//
// Automatic choice: the Keychain on darwin builds with cgo; on Linux the
// Secret Service when a session bus is reachable without starting one and
// org.freedesktop.secrets answers within a short probe; otherwise the file.
func Open(stateDir, service string) (Store, error) {
	if strings.TrimSpace(stateDir) == "" {
		return nil, errors.New("secrets: no state directory")
	}
	if strings.TrimSpace(service) == "" {
		return nil, errors.New("secrets: no service name")
	}
	file := func() (Store, error) {
		dir := filepath.Dir(FilePath(stateDir))
		if err := ensurePrivateDir(dir); err != nil {
			return nil, err
		}
		return NewFile(FilePath(stateDir)), nil
	}
	switch b := strings.ToLower(strings.TrimSpace(os.Getenv(EnvBackend))); b {
	case "":
	case BackendFile:
		return file()
	case BackendKeychain:
		s, err := openKeychain(service)
		if err != nil {
			return nil, fmt.Errorf("secrets: %s=%s: %w", EnvBackend, b, err)
		}
		return s, nil
	case BackendKeyring:
		s, err := openKeyring(service)
		if err != nil {
			return nil, fmt.Errorf("secrets: %s=%s: %w", EnvBackend, b, err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("secrets: %s=%q: want %s, %s or %s", EnvBackend, b, BackendFile, BackendKeyring, BackendKeychain)
	}
	if s, err := openKeychain(service); err == nil {
		return s, nil
	}
	if s, err := openKeyring(service); err == nil {
		return s, nil
	}
	return file()
}

// errUnavailable is returned by the platform openers on builds without the
// backend.
var errUnavailable = errors.New("not available on this platform or build")

// ensurePrivateDir creates dir 0700, and tightens it when it already exists
// with group or world access: it is ours (<stateDir>/credentials).
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("secrets: tighten %s: %w", dir, err)
		}
	}
	return nil
}

func checkKey(key string) error {
	if key == "" {
		return errors.New("secrets: empty key")
	}
	return nil
}
