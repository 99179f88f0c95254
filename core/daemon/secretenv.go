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

// secretOpener opens this profile's secret store on first use (probing
// the platform store must not slow the gateway's start); nil when it is
// unavailable.
func secretOpener(stateDir, profile string, log *slog.Logger) func() secrets.Store {
	var once sync.Once
	var store secrets.Store
	service := "ai.pincer." + strings.TrimSpace(profile)
	if strings.TrimSpace(profile) == "" {
		service = "ai.pincer.default"
	}
	return func() secrets.Store {
		once.Do(func() {
			s, err := secrets.Open(stateDir, service)
			if err != nil {
				log.Warn("secret store unavailable; keys and tokens come from the config and environment only", "err", err)
				return
			}
			store = s
		})
		return store
	}
}

// providerEnv reads provider keys from the environment, then from the
// profile's secret store.
func providerEnv(open func() secrets.Store) func(string) string {
	return func(name string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		store := open()
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
