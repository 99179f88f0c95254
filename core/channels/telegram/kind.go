package telegram

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/secrets"
)

// DefaultAccountID is the account a bare channels.telegram block configures.
const DefaultAccountID = "default"

// Token sources, as channels.status reports them (tokenSource).
const (
	TokenSourceFile    = "tokenFile" // channels.telegram[.accounts.<id>].tokenFile
	TokenSourceConfig  = "config"    // …botToken
	TokenSourceSecrets = "secrets"   // the secret store (`pincer channels login telegram`)
	TokenSourceEnv     = "env"       // TELEGRAM_BOT_TOKEN (default account only)
)

// EnvToken is the environment variable holding the default account's token.
const EnvToken = "TELEGRAM_BOT_TOKEN"

// DefaultWebhookPath is where the gateway serves the default account's
// webhook.
const DefaultWebhookPath = "/telegram-webhook"

const maxTokenFileBytes = 64 << 10

func defaultWebhookPath(accountID string) string {
	if accountID == "" || accountID == DefaultAccountID {
		return DefaultWebhookPath
	}
	return DefaultWebhookPath + "/" + url.PathEscape(accountID)
}

// configPath is the config path of an account's block, for messages.
func configPath(accountID string) string {
	if accountID == "" || accountID == DefaultAccountID {
		return "channels." + ChannelID
	}
	return "channels." + ChannelID + ".accounts." + accountID
}

// Kind is the Telegram channel kind: New builds an account from its merged
// config block (see ConfigFromAccount).
func Kind() channel.Kind {
	return channel.Kind{
		ID: ChannelID, Label: "Telegram", DetailLabel: "Telegram Bot", SystemImage: "paperplane",
		Implicit: func(env channel.Env) bool {
			if env.Getenv != nil && strings.TrimSpace(env.Getenv(EnvToken)) != "" {
				return true
			}
			if env.Secrets == nil {
				return false
			}
			tok, err := env.Secrets.Get(channel.SecretKey(ChannelID, DefaultAccountID, "botToken"))
			return err == nil && strings.TrimSpace(tok) != ""
		},
		New: func(env channel.Env, acct channel.AccountConfig) (channel.Plugin, error) {
			cfg, err := ConfigFromAccount(env, acct)
			if err != nil {
				return nil, err
			}
			p, err := New(cfg)
			if err != nil {
				return nil, err
			}
			return p, nil
		},
	}
}

// ConfigFromAccount reads an account's merged config block (OpenClaw keys:
// botToken, tokenFile, apiRoot, webhookUrl, webhookSecret, webhookPath,
// mediaMaxMb, textChunkLimit, linkPreview; other keys belong to the
// manager and the access layer and are ignored) and resolves its token:
// tokenFile, then botToken, then the secret store, then TELEGRAM_BOT_TOKEN
// (default account only).
func ConfigFromAccount(env channel.Env, acct channel.AccountConfig) (Config, error) {
	id := acct.AccountID
	if id == "" {
		id = DefaultAccountID
	}
	r := rawBlock{m: acct.Raw, path: configPath(id)}
	cfg := Config{AccountID: id, Secrets: env.Secrets, HTTPClient: env.HTTPClient, Log: env.Log}

	tokenFile, err := r.str("tokenFile")
	if err != nil {
		return Config{}, err
	}
	botToken, err := r.str("botToken")
	if err != nil {
		return Config{}, err
	}
	var secretErr error
	switch {
	case strings.TrimSpace(tokenFile) != "":
		if cfg.Token, err = readTokenFile(tokenFile, r.key("tokenFile")); err != nil {
			return Config{}, err
		}
		cfg.TokenSource = TokenSourceFile
	case strings.TrimSpace(botToken) != "":
		cfg.Token, cfg.TokenSource = strings.TrimSpace(botToken), TokenSourceConfig
	}
	if cfg.Token == "" && env.Secrets != nil {
		v, err := env.Secrets.Get(channel.SecretKey(ChannelID, id, "botToken"))
		switch {
		case err == nil && strings.TrimSpace(v) != "":
			cfg.Token, cfg.TokenSource = strings.TrimSpace(v), TokenSourceSecrets
		case err != nil && !errors.Is(err, secrets.ErrNotFound):
			secretErr = err
		}
	}
	if cfg.Token == "" && id == DefaultAccountID {
		getenv := env.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		if v := strings.TrimSpace(getenv(EnvToken)); v != "" {
			cfg.Token, cfg.TokenSource = v, TokenSourceEnv
		}
	}
	if cfg.Token == "" {
		return Config{}, noTokenError(id, secretErr)
	}

	if cfg.APIRoot, err = r.str("apiRoot"); err != nil {
		return Config{}, err
	}
	if _, err := normalizeAPIRoot(cfg.APIRoot, cfg.Token); err != nil {
		return Config{}, fmt.Errorf("%s: %s", r.key("apiRoot"), strings.TrimPrefix(err.Error(), "telegram: "))
	}
	if cfg.WebhookURL, err = r.str("webhookUrl"); err != nil {
		return Config{}, err
	}
	if cfg.WebhookSecret, err = r.str("webhookSecret"); err != nil {
		return Config{}, err
	}
	if cfg.WebhookPath, err = r.str("webhookPath"); err != nil {
		return Config{}, err
	}
	cfg.WebhookURL, cfg.WebhookPath = strings.TrimSpace(cfg.WebhookURL), strings.TrimSpace(cfg.WebhookPath)
	if cfg.WebhookURL != "" {
		if u, err := url.Parse(cfg.WebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Config{}, fmt.Errorf("%s: expected an https:// URL that reaches this gateway", r.key("webhookUrl"))
		}
		if cfg.WebhookSecret == "" {
			return Config{}, fmt.Errorf("%s: required with webhookUrl (Telegram sends it back in X-Telegram-Bot-Api-Secret-Token so the gateway can tell its updates from forgeries)", r.key("webhookSecret"))
		}
		if cfg.WebhookPath != "" && !strings.HasPrefix(cfg.WebhookPath, "/") {
			return Config{}, fmt.Errorf("%s: expected a path starting with /", r.key("webhookPath"))
		}
	}

	if mb, set, err := r.num("mediaMaxMb"); err != nil {
		return Config{}, err
	} else if set {
		if mb <= 0 || mb > 1<<20 {
			return Config{}, fmt.Errorf("%s: expected a positive number of megabytes", r.key("mediaMaxMb"))
		}
		cfg.MaxMediaBytes = int64(mb * (1 << 20))
	}
	if n, set, err := r.num("textChunkLimit"); err != nil {
		return Config{}, err
	} else if set {
		if n != math.Trunc(n) || n < 1 || n > TextLimit {
			return Config{}, fmt.Errorf("%s: expected a whole number from 1 to %d (Telegram's limit)", r.key("textChunkLimit"), TextLimit)
		}
		cfg.TextChunkLimit = int(n)
	}
	if b, set, err := r.boolean("linkPreview"); err != nil {
		return Config{}, err
	} else if set {
		cfg.DisableLinkPreview = !b
	}

	switch {
	case env.MediaDir != "":
		cfg.MediaDir = env.MediaDir
	case env.StateDir != "":
		cfg.MediaDir = filepath.Join(env.StateDir, "media", ChannelID, id)
	}
	if env.DB != nil {
		cfg.OffsetStore = NewSQLiteOffsetStore(env.DB)
	}
	return cfg, nil
}

func noTokenError(id string, secretErr error) error {
	p := configPath(id)
	var b strings.Builder
	fmt.Fprintf(&b, "telegram account %q has no bot token: set %s.botToken, or %s.tokenFile (a file holding the token)", id, p, p)
	if id == DefaultAccountID {
		b.WriteString(", or the " + EnvToken + " environment variable")
	}
	b.WriteString(", or run `pincer channels login telegram")
	if id != DefaultAccountID {
		b.WriteString(" --account " + id)
	}
	b.WriteString("` (create the bot and its token with @BotFather)")
	if secretErr != nil {
		fmt.Fprintf(&b, "; reading the secret store failed: %v", secretErr)
	}
	return errors.New(b.String())
}

// readTokenFile reads a token file: a regular file (a symlink is refused,
// so the token cannot be redirected to another file), trimmed.
func readTokenFile(name, key string) (string, error) {
	path := name
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, rest)
		}
	}
	lfi, err := os.Lstat(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read %s: %w", key, name, errors.Unwrap(err))
	}
	if lfi.Mode()&os.ModeSymlink != 0 {
		return "", fmt.Errorf("%s: %s is a symbolic link; tokenFile must name a regular file (point it at the link's target)", key, name)
	}
	if !lfi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: %s is not a regular file", key, name)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read %s: %w", key, name, errors.Unwrap(err))
	}
	defer f.Close()
	// The file must still be the one checked above.
	if fi, err := f.Stat(); err != nil || !os.SameFile(fi, lfi) {
		return "", fmt.Errorf("%s: %s changed while it was read; try again", key, name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: cannot read %s: %w", key, name, err)
	}
	if len(data) > maxTokenFileBytes {
		return "", fmt.Errorf("%s: %s is too large to be a bot token file", key, name)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("%s: %s is empty; put the bot token from @BotFather in it", key, name)
	}
	return tok, nil
}

// rawBlock reads typed keys of a config block, naming the key in errors.
type rawBlock struct {
	m    map[string]any
	path string
}

func (r rawBlock) key(k string) string { return r.path + "." + k }

func (r rawBlock) get(k string) (any, bool) {
	v, ok := r.m[k]
	return v, ok && v != nil
}

func (r rawBlock) str(k string) (string, error) {
	v, ok := r.get(k)
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: expected a string, got %s", r.key(k), jsonType(v))
	}
	return s, nil
}

func (r rawBlock) num(k string) (float64, bool, error) {
	v, ok := r.get(k)
	if !ok {
		return 0, false, nil
	}
	switch n := v.(type) {
	case float64:
		return n, true, nil
	case int:
		return float64(n), true, nil
	case int64:
		return float64(n), true, nil
	}
	return 0, false, fmt.Errorf("%s: expected a number, got %s", r.key(k), jsonType(v))
}

func (r rawBlock) boolean(k string) (bool, bool, error) {
	v, ok := r.get(k)
	if !ok {
		return false, false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, false, fmt.Errorf("%s: expected true or false, got %s", r.key(k), jsonType(v))
	}
	return b, true, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case float64, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
