package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnsureToken makes sure a token-mode gateway has a shared token.
//
// When auth mode is token and neither the file nor the environment (ApplyEnv
// must already have run) supplied one, the token is read from TokenPath, or
// on first start 32 random bytes are generated, encoded base64url without
// padding and written there (file 0600, directory 0700). The token is also
// stored in c. Other auth modes return "", false, nil.
func EnsureToken(p Paths, c *Config) (token string, created bool, err error) {
	a := &c.Gateway.Auth
	if a.Mode != "" && a.Mode != AuthModeToken {
		return "", false, nil
	}
	if a.Token != "" {
		return a.Token, false, nil
	}
	data, created, err := ensureSecretFile(p.TokenPath(), func(existing []byte) bool {
		return strings.TrimSpace(string(existing)) != ""
	}, func() ([]byte, error) {
		b, err := randomBytes(32)
		if err != nil {
			return nil, err
		}
		return []byte(base64.RawURLEncoding.EncodeToString(b) + "\n"), nil
	})
	if err != nil {
		return "", false, fmt.Errorf("gateway token: %w", err)
	}
	a.Token = strings.TrimSpace(string(data))
	return a.Token, created, nil
}

// HashPrefix starts every value returned by Hash.
const HashPrefix = "hmac-sha256:v1:"

// Hash fingerprints the raw config text for config.get's hash and the
// baseHash check of config.set. It is keyed with a per-install secret so the
// value reveals nothing about the file (a plain digest of a short config
// could be brute-forced); the 32-byte key is created on first use at
// HashKeyPath (0600).
func Hash(p Paths, rawText string) (string, error) {
	key, _, err := ensureSecretFile(p.HashKeyPath(), func(existing []byte) bool {
		return len(existing) == 32
	}, func() ([]byte, error) {
		return randomBytes(32)
	})
	if err != nil {
		return "", fmt.Errorf("config hash key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(rawText))
	return HashPrefix + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ensureSecretFile returns the content of path when valid reports it usable,
// and otherwise writes gen's output there. Creation goes through a private
// temp file linked into place, so two processes starting at once agree on a
// single secret and nobody ever sees a partially written file.
func ensureSecretFile(path string, valid func([]byte) bool, gen func() ([]byte, error)) ([]byte, bool, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(dir, 0o700)
	}

	existing, err := readSecret(path)
	switch {
	case err == nil && valid(existing):
		return existing, false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, false, err
	}
	replace := err == nil // present but unusable: overwrite it

	data, err := gen()
	if err != nil {
		return nil, false, err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return nil, false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_ = tmp.Chmod(0o600) // CreateTemp already uses 0600; belt and braces
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, err
	}
	if err := tmp.Close(); err != nil {
		return nil, false, err
	}

	if replace {
		if err := os.Rename(tmpName, path); err != nil {
			return nil, false, err
		}
		return data, true, nil
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process won the race; use its secret.
			if other, rerr := readSecret(path); rerr == nil && valid(other) {
				return other, false, nil
			}
			return nil, false, fmt.Errorf("%s exists but is unusable; delete it to create a new one", path)
		}
		// Filesystems without hard links: fall back to a plain rename.
		if rerr := os.Rename(tmpName, path); rerr != nil {
			return nil, false, rerr
		}
	}
	return data, true, nil
}

// readSecret reads a secret file, tightening its permissions if someone
// loosened them.
func readSecret(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(path, 0o600)
	}
	return os.ReadFile(path)
}
