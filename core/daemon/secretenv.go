package daemon

import (
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/pincerhq/pincer/core/secrets"
)

// SecretEnvPrefix names provider keys kept in the secret store
// ("env:ANTHROPIC_API_KEY"); `pincer models auth` writes them.
const SecretEnvPrefix = "env:"

// providerEnv reads provider keys from the environment, then from this
// profile's secret store (opened on first use: probing the platform store
// must not slow the gateway's start).
func providerEnv(stateDir, profile string, log *slog.Logger) func(string) string {
	var once sync.Once
	var store secrets.Store
	service := "ai.pincer." + strings.TrimSpace(profile)
	if strings.TrimSpace(profile) == "" {
		service = "ai.pincer.default"
	}
	return func(name string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		once.Do(func() {
			s, err := secrets.Open(stateDir, service)
			if err != nil {
				log.Warn("secret store unavailable; provider keys come from the environment only", "err", err)
				return
			}
			store = s
		})
		if store == nil {
			return ""
		}
		v, err := store.Get(SecretEnvPrefix + name)
		if err != nil {
			return ""
		}
		return v
	}
}
