package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/secrets"
)

var (
	_ channel.Reactor  = (*Plugin)(nil)
	_ channel.Prober   = (*Plugin)(nil)
	_ channel.Logouter = (*Plugin)(nil)
	_ channel.Webhook  = (*Plugin)(nil)
	_ channel.Detailer = (*Plugin)(nil)
)

const probeTimeout = 10 * time.Second

// Probe checks the token with getMe. The result is a map with ok,
// elapsedMs and, on success, bot {id, username, firstName, isBot,
// canJoinGroups, canReadAllGroupMessages, supportsInlineQueries,
// hasTopicsEnabled}; on an API failure also status (the HTTP status, when
// Telegram answered) and error. A failed probe returns the result together
// with an error: channel.ErrPermanent when Telegram rejected the token,
// channel.ErrTransient for network trouble, rate limits and server errors.
func (p *Plugin) Probe(ctx context.Context) (any, error) {
	ctx, cancel := withDefaultTimeout(ctx, probeTimeout)
	defer cancel()
	start := time.Now()
	me, err := p.bot.GetMe(ctx)
	res := map[string]any{"ok": err == nil, "elapsedMs": time.Since(start).Milliseconds()}
	if err != nil {
		err = startErrorHint("getMe", p.redact(err), p.tokenHint())
		if code := apiStatus(err); code != 0 {
			res["status"] = code
		}
		res["error"] = err.Error()
		if errors.Is(err, channel.ErrPermanent) {
			p.update(func(s *channel.Status) { s.Linked = false; s.LastError = err.Error() })
		}
		return res, err
	}
	res["bot"] = map[string]any{
		"id": me.ID, "username": me.Username, "firstName": me.FirstName, "isBot": me.IsBot,
		"canJoinGroups": me.CanJoinGroups, "canReadAllGroupMessages": me.CanReadAllGroupMessages,
		"supportsInlineQueries": me.SupportInlineQueries, "hasTopicsEnabled": me.HasTopicsEnabled,
	}
	p.mu.Lock()
	p.self = me
	p.status.Linked = true
	p.status.Self = "@" + me.Username
	p.mu.Unlock()
	return res, nil
}

// apiStatus is the HTTP status a go-telegram error stands for (0 when it
// is not an API answer).
func apiStatus(err error) int {
	var tmr *bot.TooManyRequestsError
	var mig *bot.MigrateError
	switch {
	case errors.As(err, &tmr):
		return http.StatusTooManyRequests
	case errors.As(err, &mig), errors.Is(err, bot.ErrorBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, bot.ErrorUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, bot.ErrorForbidden):
		return http.StatusForbidden
	case errors.Is(err, bot.ErrorNotFound):
		return http.StatusNotFound
	case errors.Is(err, bot.ErrorConflict):
		return http.StatusConflict
	}
	return 0
}

// Logout forgets the account's token when `pincer channels login telegram`
// stored it in the secret store. A token from the config, a token file or
// the environment is the operator's to remove: Logout then fails saying
// which one.
func (p *Plugin) Logout(context.Context) error {
	path := configPath(p.cfg.AccountID)
	switch p.cfg.TokenSource {
	case TokenSourceSecrets:
		if p.cfg.Secrets == nil {
			return errors.New("telegram: the secret store is unavailable; cannot remove the stored bot token")
		}
		key := channel.SecretKey(ChannelID, p.cfg.AccountID, "botToken")
		if err := p.cfg.Secrets.Delete(key); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return fmt.Errorf("telegram: remove the stored bot token: %w", err)
		}
		p.update(func(s *channel.Status) { s.Linked = false })
		return nil
	case TokenSourceFile:
		return fmt.Errorf("telegram account %q reads its bot token from the file named by %s.tokenFile: remove that key from the config (and delete the file) to log out", p.cfg.AccountID, path)
	case TokenSourceEnv:
		return fmt.Errorf("telegram account %q takes its bot token from the %s environment variable: unset it in the gateway's environment and restart the gateway to log out", p.cfg.AccountID, EnvToken)
	default:
		return fmt.Errorf("telegram account %q has its bot token in the config at %s.botToken: remove that key to log out", p.cfg.AccountID, path)
	}
}

// WebhookPath is where the gateway must route this account's webhook
// requests (to WebhookHandler); "" when the account polls.
func (p *Plugin) WebhookPath() string {
	if p.cfg.WebhookURL == "" {
		return ""
	}
	return p.cfg.WebhookPath
}

// StatusDetails adds the account's Telegram fields to channels.status:
// tokenSource and botTokenSource (where the token came from), mode,
// baseUrl (the API root), webhookPath and webhookUrl in webhook mode, and
// bot {id, username, firstName} once known. It never includes the token or
// the webhook secret.
func (p *Plugin) StatusDetails() map[string]any {
	d := map[string]any{
		"tokenSource": p.cfg.TokenSource, "botTokenSource": p.cfg.TokenSource,
		"mode": p.mode(), "baseUrl": p.apiRoot,
	}
	if p.cfg.WebhookURL != "" {
		d["webhookPath"] = p.cfg.WebhookPath
		d["webhookUrl"] = strings.ReplaceAll(p.cfg.WebhookURL, p.cfg.Token, "***")
	}
	p.mu.Lock()
	me := p.self
	p.mu.Unlock()
	if me != nil {
		d["bot"] = botInfo(me)
	}
	return d
}

func botInfo(me *models.User) map[string]any {
	return map[string]any{"id": me.ID, "username": me.Username, "firstName": me.FirstName}
}
