package config

import "strings"

// RedactedSentinel replaces secret values in config.get output. It is
// OpenClaw's spelling, which clients recognise and send back unchanged.
const RedactedSentinel = "__OPENCLAW_REDACTED__"

// Redact returns a deep copy of a decoded JSON tree (map[string]any, []any
// and scalars) in which the values of secret-looking keys are replaced by
// RedactedSentinel. The input is not modified.
//
// A key is secret-looking when it is, or ends in, token, password,
// passphrase, secret or credential, or ends in key (apiKey, privateKey, …)
// unless it is a known non-secret such as sessionKey or publicKey. Plurals
// (apiKeys, tokens) are redacted only when they hold an array, so that
// counts like maxTokens stay visible. Only string values are replaced;
// objects under a secret key (OpenClaw SecretRefs such as
// {source:"env", id:"X"}) are copied as they are, because they name where
// the secret lives rather than containing it.
func Redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			switch secretKind(k) {
			case secretSingle:
				out[k] = redactValue(val)
			case secretPlural:
				if arr, ok := val.([]any); ok {
					out[k] = redactValue(arr)
				} else {
					out[k] = Redact(val)
				}
			default:
				out[k] = Redact(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = Redact(e)
		}
		return out
	default:
		return v
	}
}

// redactValue hides the strings of a value that sits under a secret key.
func redactValue(v any) any {
	switch t := v.(type) {
	case string:
		if t == "" {
			return t
		}
		return RedactedSentinel
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(e)
		}
		return out
	default:
		return Redact(v)
	}
}

type secretClass int

const (
	notSecret secretClass = iota
	secretSingle
	secretPlural
)

var secretSuffixes = []string{"token", "password", "passwd", "passphrase", "secret", "credential"}

// nonSecretKeys end in "key" but name identifiers, not secrets.
var nonSecretKeys = map[string]bool{
	"key": true, "sessionkey": true, "defaultsessionkey": true, "publickey": true,
	"idempotencykey": true, "cachekey": true, "sortkey": true, "partitionkey": true,
	"routingkey": true, "primarykey": true, "foreignkey": true, "hotkey": true,
	"shortcutkey": true, "modifierkey": true, "dedupekey": true, "threadkey": true,
	"groupkey": true, "storekey": true, "lookupkey": true, "mapkey": true,
	"messagekey": true, "agentkey": true, "conversationkey": true, "channelkey": true,
}

func secretKind(key string) secretClass {
	k := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(key))
	if k == "" {
		return notSecret
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(k, s) {
			return secretSingle
		}
		if strings.HasSuffix(k, s+"s") && k != s+"s" {
			return secretPlural
		}
	}
	if strings.HasSuffix(k, "key") && !nonSecretKeys[k] {
		return secretSingle
	}
	if strings.HasSuffix(k, "keys") && k != "keys" && !nonSecretKeys[strings.TrimSuffix(k, "s")] {
		return secretPlural
	}
	return notSecret
}
