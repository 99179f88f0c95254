package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// LoadResult describes the file behind a Load, for config.get and doctor
// output.
type LoadResult struct {
	Paths    Paths
	Exists   bool
	RawText  string
	Issues   []Issue
	Warnings []Issue
}

// Load reads and validates the config file at p.ConfigPath. The environment
// is not applied; call ApplyEnv on the result.
//
// A missing file yields Defaults with Exists=false and no error. A JSON5
// syntax error yields a nil config and a *SyntaxError (also recorded as an
// issue in the result). Validation problems yield a *ValidationError listing
// every issue, together with the best-effort config (invalid values left at
// their defaults, Raw set) so config.get can still show the document.
func Load(p Paths) (*Config, *LoadResult, error) {
	res := &LoadResult{Paths: p}
	b, err := os.ReadFile(p.ConfigPath)
	if errors.Is(err, fs.ErrNotExist) {
		return Defaults(), res, nil
	}
	if err != nil {
		return nil, res, fmt.Errorf("read config: %w", err)
	}
	res.Exists = true
	res.RawText = string(b)
	cfg, issues, warnings, err := Parse(b)
	res.Issues, res.Warnings = issues, warnings
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.Path = p.ConfigPath
			res.Issues = []Issue{{Message: fmt.Sprintf("JSON5 syntax error at line %d, column %d: %s", se.Line, se.Column, se.Msg)}}
		}
		return nil, res, err
	}
	if len(issues) > 0 {
		return cfg, res, &ValidationError{Path: p.ConfigPath, Issues: issues}
	}
	return cfg, res, nil
}
