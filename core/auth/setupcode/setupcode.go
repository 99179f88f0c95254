// Package setupcode encodes and decodes pairing setup codes (spec §3.7):
// base64url(JSON{url, urls?, bootstrapToken, expiresAtMs?, tlsFingerprint?})
// without padding, optionally prefixed with oc-pair://.
package setupcode

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/pincerhq/pincer/core/protocol"
)

// Encode is base64url(JSON) without padding.
func Encode(p protocol.SetupCodePayload) string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode accepts a code with or without the oc-pair:// prefix.
func Decode(code string) (protocol.SetupCodePayload, error) {
	var p protocol.SetupCodePayload
	code = strings.TrimPrefix(strings.TrimSpace(code), "oc-pair://")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(code, "="))
	if err != nil {
		return p, errors.New("setup code is not base64url")
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, errors.New("setup code is not valid JSON")
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return p, errors.New("setup code has no ws:// or wss:// gateway URL")
	}
	if p.BootstrapToken == "" {
		return p, errors.New("setup code has no bootstrap token")
	}
	return p, nil
}
