// Package telegram is the Telegram channel plugin: a bot account on the
// Telegram Bot API (github.com/go-telegram/bot), receiving updates by long
// polling (default) or a webhook, and sending Markdown replies as Telegram
// HTML (core/channels/format). Kind builds accounts from the OpenClaw
// channels.telegram config block; telegramtest is a fake Bot API for tests.
//
// Long polling is done here rather than by the library's Start loop so the
// restart offset only advances once an update has been handed to the
// Handler (the library confirms updates to Telegram as soon as they are
// queued, which loses them on a crash), and so a revoked token or a
// conflicting poller shows up in Status instead of a log line.
package telegram

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/secrets"
)

// ChannelID is the channel kind this plugin serves.
const ChannelID = "telegram"

// Limits and defaults.
const (
	// TextLimit is Telegram's maximum message length (characters after
	// entity parsing).
	TextLimit = 4096
	// CaptionLimit is the maximum media caption length.
	CaptionLimit = 1024
	// DefaultMaxMediaBytes caps inbound media downloads (the cloud Bot API
	// serves files up to 20 MB through getFile).
	DefaultMaxMediaBytes int64 = 20 << 20
	// DefaultAPIRoot is the public Bot API.
	DefaultAPIRoot = "https://api.telegram.org"

	pollTimeout    = 30 * time.Second // getUpdates long-poll timeout
	pollSlack      = 15 * time.Second // extra HTTP time on top of pollTimeout
	callTimeout    = 2 * time.Minute  // other API calls when ctx has no deadline
	backoffMin     = 1 * time.Second
	backoffMax     = 30 * time.Second
	webhookMaxBody = 8 << 20
	seenWebhookMax = 2048
)

// allowedUpdates are the update kinds the plugin asks for.
var allowedUpdates = []string{
	models.AllowedUpdateMessage, models.AllowedUpdateEditedMessage,
	models.AllowedUpdateChannelPost, models.AllowedUpdateEditedChannelPost,
}

// Config is one Telegram bot account.
type Config struct {
	AccountID string // "default" when empty
	Token     string
	// TokenSource says where Token came from: "tokenFile", "config",
	// "secrets" or "env" (default "config"). Logout uses it.
	TokenSource string
	// Secrets is the secret store a "secrets" token lives in (Logout
	// deletes it there).
	Secrets secrets.Store
	// APIRoot is the Bot API root only, without /bot<TOKEN>
	// (default https://api.telegram.org).
	APIRoot string
	// WebhookURL switches to webhook mode: Start registers it (with
	// WebhookSecret, required) and updates arrive through WebhookHandler,
	// mounted by the gateway at WebhookPath (default "/telegram-webhook",
	// or "/telegram-webhook/<accountId>" for other accounts).
	WebhookURL, WebhookSecret, WebhookPath string
	// MediaDir is where inbound media is saved (default: a directory under
	// the OS temp dir).
	MediaDir string
	// MaxMediaBytes caps each inbound download (default 20 MiB); larger
	// files are skipped with a note in the message text.
	MaxMediaBytes int64
	// TextChunkLimit is the longest message Send sends, in UTF-16 code
	// units of the rendered text (1..4096, default 4096); longer text is
	// split.
	TextChunkLimit int
	// DisableLinkPreview sends text messages without link previews.
	DisableLinkPreview bool
	// OffsetStore persists the polling offset (default: in memory).
	OffsetStore OffsetStore
	HTTPClient  *http.Client
	Log         *slog.Logger
}

// Plugin is a Telegram bot account; it implements channel.Plugin.
type Plugin struct {
	cfg     Config
	apiRoot string
	bot     *bot.Bot
	hc      *http.Client
	log     *slog.Logger
	offsets OffsetStore

	mu      sync.Mutex
	status  channel.Status
	running bool
	self    *models.User
	handler channel.Handler
	runCtx  context.Context

	// progress remembers messages delivered part-way (see Send).
	progMu   sync.Mutex
	progress map[string]sendProgress

	// webhook: one update at a time, and no update twice.
	hookMu   sync.Mutex
	seen     map[int64]struct{}
	seenList []int64
}

var _ channel.Plugin = (*Plugin)(nil)

// New prepares an account; it does not contact Telegram (Start does).
func New(cfg Config) (*Plugin, error) {
	cfg.Token = strings.TrimSpace(cfg.Token)
	if cfg.Token == "" {
		return nil, errors.New("telegram: bot token is empty (set botToken or tokenFile)")
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.TokenSource == "" {
		cfg.TokenSource = TokenSourceConfig
	}
	root, err := normalizeAPIRoot(cfg.APIRoot, cfg.Token)
	if err != nil {
		return nil, err
	}
	if cfg.WebhookURL != "" {
		if cfg.WebhookSecret == "" {
			return nil, errors.New("telegram: webhookSecret is required with webhookUrl")
		}
		if cfg.WebhookPath == "" {
			cfg.WebhookPath = defaultWebhookPath(cfg.AccountID)
		}
		if !strings.HasPrefix(cfg.WebhookPath, "/") {
			return nil, fmt.Errorf("telegram: webhookPath %q must start with /", cfg.WebhookPath)
		}
	}
	if cfg.MaxMediaBytes <= 0 {
		cfg.MaxMediaBytes = DefaultMaxMediaBytes
	}
	switch {
	case cfg.TextChunkLimit == 0:
		cfg.TextChunkLimit = TextLimit
	case cfg.TextChunkLimit < 0 || cfg.TextChunkLimit > TextLimit:
		return nil, fmt.Errorf("telegram: textChunkLimit %d is outside 1..%d", cfg.TextChunkLimit, TextLimit)
	}
	if cfg.MediaDir == "" {
		cfg.MediaDir = filepath.Join(os.TempDir(), "pincer-telegram-media", cfg.AccountID)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	log := cfg.Log.With("channel", ChannelID, "account", cfg.AccountID)
	hc := httpClient(cfg.HTTPClient)
	b, err := newBot(cfg.Token, root, hc, log)
	if err != nil {
		return nil, err
	}
	p := &Plugin{cfg: cfg, apiRoot: root, bot: b, hc: hc, log: log, offsets: cfg.OffsetStore,
		seen: map[int64]struct{}{}}
	if p.offsets == nil {
		p.offsets = NewMemoryOffsetStore()
	}
	p.status = channel.Status{Configured: true, Mode: p.mode()}
	return p, nil
}

// httpClient returns the client to use: per-call deadlines come from
// contexts, so an overall Timeout shorter than a long poll is lifted.
func httpClient(hc *http.Client) *http.Client {
	if hc == nil {
		return &http.Client{}
	}
	if hc.Timeout != 0 && hc.Timeout < pollTimeout+pollSlack {
		c := *hc
		c.Timeout = 0
		return &c
	}
	return hc
}

func newBot(token, root string, hc *http.Client, log *slog.Logger) (*bot.Bot, error) {
	b, err := bot.New(token,
		bot.WithSkipGetMe(),
		bot.WithServerURL(root),
		bot.WithHTTPClient(pollTimeout, hc),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}),
		bot.WithErrorsHandler(func(err error) { log.Debug("telegram client", "err", err) }),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	return b, nil
}

// botPathRE finds a "/bot<id>:<secret>" token path pasted into an API root.
var botPathRE = regexp.MustCompile(`/bot\d+:`)

// normalizeAPIRoot trims spaces and trailing slashes and checks the root is
// an http(s) URL without a bot token in it (the error never repeats the
// root then, so the token does not reach logs or status).
func normalizeAPIRoot(root, token string) (string, error) {
	root = strings.TrimRight(strings.TrimSpace(root), "/")
	if root == "" {
		return DefaultAPIRoot, nil
	}
	if (token != "" && strings.Contains(root, "/bot"+token)) || botPathRE.MatchString(root) {
		return "", errors.New(`telegram: apiRoot must be the Bot API root only (e.g. https://api.telegram.org), without "/bot<TOKEN>": remove the token path from apiRoot`)
	}
	u, err := url.Parse(root)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("telegram: apiRoot %q is not an http(s) URL", root)
	}
	return root, nil
}

func (p *Plugin) mode() string {
	if p.cfg.WebhookURL != "" {
		return "webhook"
	}
	return "polling"
}

// Validate checks a bot token with getMe and returns the bot's username
// (for `pincer channels login telegram`).
func Validate(ctx context.Context, token, apiRoot string, hc *http.Client) (string, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", errors.New("telegram: bot token is empty")
	}
	root, err := normalizeAPIRoot(apiRoot, token)
	if err != nil {
		return "", err
	}
	b, err := newBot(token, root, httpClient(hc), slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	ctx, cancel := withDefaultTimeout(ctx, callTimeout)
	defer cancel()
	me, err := b.GetMe(ctx)
	if err != nil {
		return "", startError("getMe", err)
	}
	return me.Username, nil
}

// Status reports the account's state.
func (p *Plugin) Status() channel.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// TextLimit is the longest message Send sends in one piece (textChunkLimit,
// at most Telegram's 4096).
func (p *Plugin) TextLimit() int { return p.cfg.TextChunkLimit }

func (p *Plugin) update(f func(s *channel.Status)) {
	p.mu.Lock()
	f(&p.status)
	p.mu.Unlock()
}

func (p *Plugin) setError(err error) {
	p.update(func(s *channel.Status) { s.LastError = err.Error() })
}

// Start connects (getMe), then long-polls or registers the webhook, and runs
// until ctx ends (returning nil) or a fatal error.
func (p *Plugin) Start(ctx context.Context, h channel.Handler) error {
	if h == nil {
		return errors.New("telegram: nil handler")
	}
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errors.New("telegram: account already running")
	}
	p.running = true
	p.status.Running, p.status.Connected, p.status.Mode = true, false, p.mode()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running, p.handler, p.runCtx = false, nil, nil
		p.status.Running, p.status.Connected = false, false
		p.mu.Unlock()
	}()

	cctx, cancel := withDefaultTimeout(ctx, callTimeout)
	me, err := p.bot.GetMe(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		err = startErrorHint("getMe", err, p.tokenHint())
		p.update(func(s *channel.Status) {
			s.LastError = err.Error()
			if errors.Is(err, channel.ErrPermanent) {
				s.Linked = false
			}
		})
		return err
	}
	p.mu.Lock()
	p.self = me
	p.status.Linked = true
	p.status.Self = "@" + me.Username
	p.mu.Unlock()
	p.log.Info("telegram bot connected", "bot", "@"+me.Username, "mode", p.mode())

	if p.cfg.WebhookURL != "" {
		return p.runWebhook(ctx, h)
	}
	return p.poll(ctx, h, me)
}

// startError classifies a failure while starting: a rejected token is
// permanent, anything else transient.
func startError(method string, err error) error {
	return startErrorHint(method, err, "check botToken/tokenFile")
}

func startErrorHint(method string, err error, hint string) error {
	switch {
	case errors.Is(err, bot.ErrorUnauthorized), errors.Is(err, bot.ErrorNotFound):
		return channel.Permanent(fmt.Errorf("telegram: %s rejected the bot token (%s): %w", method, hint, err))
	case errors.Is(err, bot.ErrorBadRequest), errors.Is(err, bot.ErrorForbidden):
		return channel.Permanent(fmt.Errorf("telegram: %s: %w", method, err))
	default:
		return channel.Transient(fmt.Errorf("telegram: %s: %w", method, err), 0)
	}
}

// tokenHint says how to replace this account's token.
func (p *Plugin) tokenHint() string {
	path := configPath(p.cfg.AccountID)
	switch p.cfg.TokenSource {
	case TokenSourceFile:
		return "put the current token from @BotFather in the file named by " + path + ".tokenFile"
	case TokenSourceSecrets:
		login := "pincer channels login telegram"
		if p.cfg.AccountID != DefaultAccountID {
			login += " --account " + p.cfg.AccountID
		}
		return "run `" + login + "` with the current token from @BotFather"
	case TokenSourceEnv:
		return "set " + EnvToken + " to the current token from @BotFather"
	}
	return "set " + path + ".botToken to the current token from @BotFather"
}

func (p *Plugin) runWebhook(ctx context.Context, h channel.Handler) error {
	cctx, cancel := withDefaultTimeout(ctx, callTimeout)
	_, err := p.bot.SetWebhook(cctx, &bot.SetWebhookParams{
		URL: p.cfg.WebhookURL, SecretToken: p.cfg.WebhookSecret, AllowedUpdates: allowedUpdates,
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		err = startErrorHint("setWebhook", err, p.tokenHint())
		p.setError(err)
		return err
	}
	p.mu.Lock()
	p.handler, p.runCtx = h, ctx
	p.status.Connected, p.status.LastError = true, ""
	p.mu.Unlock()
	<-ctx.Done()
	return nil
}

// poll long-polls getUpdates, handing each update to h and saving the
// offset after it.
func (p *Plugin) poll(ctx context.Context, h channel.Handler, me *models.User) error {
	// getUpdates is refused (409) while a webhook is set.
	cctx, cancel := withDefaultTimeout(ctx, callTimeout)
	if _, err := p.bot.DeleteWebhook(cctx, &bot.DeleteWebhookParams{}); err != nil && ctx.Err() == nil {
		p.log.Warn("telegram deleteWebhook failed", "err", err)
	}
	cancel()

	offset, err := p.offsets.LoadOffset(ctx, p.cfg.AccountID, me.ID)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		err = fmt.Errorf("telegram: load polling offset: %w", err)
		p.setError(err)
		return err
	}
	p.update(func(s *channel.Status) { s.Connected, s.LastError = true, "" })

	backoff := time.Duration(0)
	for {
		if ctx.Err() != nil {
			return nil
		}
		ups, err := p.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ae *apiError
			if errors.As(err, &ae) && (ae.Code == http.StatusUnauthorized || ae.Code == http.StatusNotFound) {
				err = channel.Permanent(fmt.Errorf("telegram: getUpdates rejected the bot token: %w", err))
				p.setError(err)
				return err
			}
			if errors.As(err, &ae) && ae.Code == http.StatusConflict {
				err = fmt.Errorf("%w (another poller or a webhook is using this bot token)", err)
			}
			p.update(func(s *channel.Status) { s.Connected, s.LastError = false, err.Error() })
			p.log.Warn("telegram getUpdates failed", "err", err)
			backoff = min(max(backoff*2, backoffMin), backoffMax)
			wait := backoff
			if ae != nil && ae.RetryAfter > 0 {
				wait = max(wait, time.Duration(ae.RetryAfter)*time.Second)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		backoff = 0
		p.update(func(s *channel.Status) { s.Connected, s.LastError = true, "" })
		for _, u := range ups {
			if u == nil {
				continue
			}
			if u.ID < offset {
				continue // already processed (a server that ignores offset)
			}
			in, ok := p.toInbound(ctx, u, me)
			if ctx.Err() != nil {
				return nil // stopped mid-update (e.g. a download): fetch it again next time
			}
			if ok {
				h(ctx, in)
			}
			offset = u.ID + 1
			// Save even when ctx just ended: the update was handed over.
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := p.offsets.SaveOffset(sctx, p.cfg.AccountID, me.ID, offset); err != nil {
				p.log.Error("telegram: saving the polling offset failed", "offset", offset, "err", err)
				p.setError(fmt.Errorf("telegram: save polling offset: %w", err))
			}
			scancel()
			if ctx.Err() != nil {
				return nil
			}
		}
	}
}

// apiError is a Bot API error answer.
type apiError struct {
	Method      string
	Code        int
	Description string
	RetryAfter  int
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
}

type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	Description string          `json:"description"`
	ErrorCode   int             `json:"error_code"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// getUpdates is one long-poll request.
func (p *Plugin) getUpdates(ctx context.Context, offset int64) ([]*models.Update, error) {
	params := map[string]any{"timeout": int(pollTimeout / time.Second), "allowed_updates": allowedUpdates}
	if offset > 0 {
		params["offset"] = offset
	}
	body, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(ctx, pollTimeout+pollSlack)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.apiRoot+"/bot"+p.cfg.Token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, p.redact(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, p.redact(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, p.redact(err)
	}
	var r apiResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("telegram getUpdates: HTTP %d with an undecodable body", resp.StatusCode)
	}
	if !r.OK {
		return nil, &apiError{Method: "getUpdates", Code: r.ErrorCode, Description: r.Description, RetryAfter: r.Parameters.RetryAfter}
	}
	var ups []*models.Update
	if err := json.Unmarshal(r.Result, &ups); err != nil {
		return nil, fmt.Errorf("telegram getUpdates: decode updates: %w", err)
	}
	return ups, nil
}

// redact removes the bot token from an error (URLs carry it).
func (p *Plugin) redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = strings.ReplaceAll(ue.URL, p.cfg.Token, "***")
	}
	return err
}

// WebhookHandler receives updates in webhook mode: it checks the
// X-Telegram-Bot-Api-Secret-Token header, then processes the update before
// answering 200 (a non-2xx answer makes Telegram redeliver). It answers 503
// while the account is not running, so Telegram keeps the update.
func (p *Plugin) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.WebhookURL == "" {
			http.Error(w, "telegram webhook mode is not enabled", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
		if subtle.ConstantTimeCompare([]byte(got), []byte(p.cfg.WebhookSecret)) != 1 {
			p.log.Warn("telegram webhook: wrong secret token", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var u models.Update
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, webhookMaxBody)).Decode(&u); err != nil {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		h, ctx, me := p.handler, p.runCtx, p.self
		p.mu.Unlock()
		if h == nil || ctx == nil || ctx.Err() != nil {
			http.Error(w, "telegram account not running", http.StatusServiceUnavailable)
			return
		}
		p.hookMu.Lock()
		defer p.hookMu.Unlock()
		if _, dup := p.seen[u.ID]; !dup {
			in, ok := p.toInbound(ctx, &u, me)
			if ctx.Err() != nil {
				http.Error(w, "telegram account stopping", http.StatusServiceUnavailable)
				return
			}
			if ok {
				h(ctx, in)
			}
			p.seen[u.ID] = struct{}{}
			p.seenList = append(p.seenList, u.ID)
			if len(p.seenList) > seenWebhookMax {
				delete(p.seen, p.seenList[0])
				p.seenList = p.seenList[1:]
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

// withDefaultTimeout bounds ctx when it has no deadline.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
