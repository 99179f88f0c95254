package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Environment variables that move the state directory and the config file.
const (
	EnvStateDir   = "PINCER_STATE_DIR"
	EnvConfigPath = "PINCER_CONFIG_PATH"
)

// ConfigFileName is the name of the config file inside the state directory.
const ConfigFileName = "pincer.json"

// Paths locates everything the gateway keeps on disk.
type Paths struct {
	StateDir   string
	ConfigPath string
	Profile    string
}

var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ResolvePaths works out the state directory and config path.
//
// The state directory is $PINCER_STATE_DIR when set, otherwise ~/.pincer for
// the default profile ("" or "default") and ~/.pincer-NAME for profile NAME.
// The config file is $PINCER_CONFIG_PATH when set, otherwise pincer.json in
// the state directory. A leading "~" in either variable is expanded.
func ResolvePaths(profile string) (Paths, error) {
	profile = strings.TrimSpace(profile)
	if profile == "default" {
		profile = ""
	}
	if profile != "" && !profileNameRE.MatchString(profile) {
		return Paths{}, fmt.Errorf("invalid profile name %q: use letters, digits, '-' and '_' (at most 64 characters)", profile)
	}
	p := Paths{Profile: profile}

	if v := strings.TrimSpace(os.Getenv(EnvStateDir)); v != "" {
		dir, err := expandPath(v)
		if err != nil {
			return Paths{}, fmt.Errorf("%s: %w", EnvStateDir, err)
		}
		p.StateDir = dir
	} else {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return Paths{}, fmt.Errorf("cannot find the home directory for the state dir (set %s): %v", EnvStateDir, err)
		}
		name := ".pincer"
		if profile != "" {
			name += "-" + profile
		}
		p.StateDir = filepath.Join(home, name)
	}

	if v := strings.TrimSpace(os.Getenv(EnvConfigPath)); v != "" {
		path, err := expandPath(v)
		if err != nil {
			return Paths{}, fmt.Errorf("%s: %w", EnvConfigPath, err)
		}
		p.ConfigPath = path
	} else {
		p.ConfigPath = filepath.Join(p.StateDir, ConfigFileName)
	}
	return p, nil
}

// expandPath expands a leading "~" and makes the path absolute so that a
// relative value does not silently change meaning with the working directory.
func expandPath(v string) (string, error) {
	if v == "~" || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, `~\`) {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return "", errors.New("cannot expand ~: home directory unknown")
		}
		v = filepath.Join(home, v[1:])
	}
	return filepath.Abs(v)
}

// StoreDir is the directory holding the SQLite state database.
func (p Paths) StoreDir() string { return filepath.Join(p.StateDir, "state") }

// DBPath is the global control-plane database.
func (p Paths) DBPath() string { return filepath.Join(p.StoreDir(), "pincer.sqlite") }

// LogDir is the directory holding the gateway log and its rotations.
func (p Paths) LogDir() string { return filepath.Join(p.StateDir, "logs") }

// LogPath is the active JSON-lines gateway log that logs.tail reads.
func (p Paths) LogPath() string { return filepath.Join(p.LogDir(), "gateway.log") }

// CredentialsDir holds secrets the gateway generated for itself (0700).
func (p Paths) CredentialsDir() string { return filepath.Join(p.StateDir, "credentials") }

// TokenPath is the generated shared gateway token (0600).
func (p Paths) TokenPath() string { return filepath.Join(p.CredentialsDir(), "gateway-token") }

// HashKeyPath is the per-install key used by Hash (0600).
func (p Paths) HashKeyPath() string { return filepath.Join(p.CredentialsDir(), "config-hash.key") }
