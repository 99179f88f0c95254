package sessions

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pincerhq/pincer/core/config"
)

// MaxKeyLen is the longest session key accepted, in bytes (the protocol caps
// sessionKey at 512).
const MaxKeyLen = 512

const keyPrefix = "agent:"

// MainRest is the rest of an agent's main session key.
const MainRest = "main"

// ErrInvalidKey matches (errors.Is) every key validation error.
var ErrInvalidKey = errors.New("invalid session key")

type keyError struct{ msg string }

func (e *keyError) Error() string        { return "invalid session key: " + e.msg }
func (e *keyError) Is(target error) bool { return target == ErrInvalidKey }

func badKey(format string, a ...any) error { return &keyError{msg: fmt.Sprintf(format, a...)} }

// MainKey is the main session key of an agent: "agent:<agentId>:main".
func MainKey(agentID string) string { return keyPrefix + agentID + ":" + MainRest }

// ParseKey splits a full key "agent:<agentId>:<rest>". It reports false for
// anything else, including a key whose agentId or rest is empty.
func ParseKey(key string) (agentID, rest string, ok bool) {
	s, found := strings.CutPrefix(key, keyPrefix)
	if !found {
		return "", "", false
	}
	agentID, rest, found = strings.Cut(s, ":")
	if !found || agentID == "" || rest == "" {
		return "", "", false
	}
	return agentID, rest, true
}

// IsMain reports whether key is an agent's main session.
func IsMain(key string) bool {
	_, rest, ok := ParseKey(key)
	return ok && rest == MainRest
}

// Canonical turns what a client typed into a full session key. It accepts a
// full key ("agent:ops:main"), "main" (the default agent's main session) and
// any other short form "<rest>" (becomes "agent:<defaultAgent>:<rest>").
// defaultAgent "" means config.MainAgentID. Surrounding whitespace is
// trimmed; an empty key, a key with control characters or invalid UTF-8, and
// a key longer than MaxKeyLen (before or after expansion) are rejected.
func Canonical(key, defaultAgent string) (string, error) {
	if defaultAgent == "" {
		defaultAgent = config.MainAgentID
	}
	if err := checkAgentID(defaultAgent); err != nil {
		return "", err
	}
	k := strings.TrimSpace(key)
	if k == "" {
		return "", badKey("the key is empty; use \"main\" or \"agent:<agentId>:<name>\"")
	}
	if len(k) > MaxKeyLen {
		return "", badKey("the key is %d bytes long; the limit is %d", len(k), MaxKeyLen)
	}
	if !utf8.ValidString(k) {
		return "", badKey("the key is not valid UTF-8")
	}
	for i, r := range k {
		if unicode.IsControl(r) {
			return "", badKey("the key contains a control character (%U) at byte %d", r, i)
		}
	}
	// The prefix is matched without regard to case so that "Agent:x:y" is
	// not silently nested as "agent:main:Agent:x:y".
	if len(k) >= len(keyPrefix) && strings.EqualFold(k[:len(keyPrefix)], keyPrefix) {
		full := keyPrefix + k[len(keyPrefix):]
		agentID, rest, ok := ParseKey(full)
		if !ok {
			return "", badKey("%q must look like \"agent:<agentId>:<name>\" with a non-empty agentId and name", k)
		}
		if err := checkAgentID(agentID); err != nil {
			return "", err
		}
		if strings.TrimSpace(rest) == "" {
			return "", badKey("%q has a blank name after the agentId", k)
		}
		return full, nil
	}
	full := keyPrefix + defaultAgent + ":" + k
	if len(full) > MaxKeyLen {
		return "", badKey("%q expands to %d bytes (%s…); the limit is %d", truncate(k, 40), len(full), keyPrefix+defaultAgent, MaxKeyLen)
	}
	return full, nil
}

// checkAgentID rejects agent ids that would make a key ambiguous.
func checkAgentID(id string) error {
	switch {
	case id == "":
		return badKey("the agentId is empty")
	case strings.Contains(id, ":"):
		return badKey("agentId %q contains ':'", id)
	case strings.TrimSpace(id) != id || strings.IndexFunc(id, unicode.IsSpace) >= 0:
		return badKey("agentId %q contains whitespace", id)
	case !utf8.ValidString(id):
		return badKey("the agentId is not valid UTF-8")
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return badKey("agentId %q contains a control character", id)
	}
	return nil
}

// validKey is the check every store method applies: it takes full keys only,
// so callers canonicalize at the edge (where the default agent is known).
func validKey(key string) (agentID string, err error) {
	if len(key) > MaxKeyLen {
		return "", badKey("the key is %d bytes long; the limit is %d", len(key), MaxKeyLen)
	}
	agentID, _, ok := ParseKey(key)
	if !ok {
		return "", badKey("%q is not a full key \"agent:<agentId>:<name>\" (use Canonical first)", truncate(key, 80))
	}
	if err := checkAgentID(agentID); err != nil {
		return "", err
	}
	if !utf8.ValidString(key) || strings.IndexFunc(key, unicode.IsControl) >= 0 {
		return "", badKey("the key contains a control character or invalid UTF-8")
	}
	return agentID, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
