// Package channels runs the messaging channels: each configured channel
// account under its own supervisor, a durable inbound queue feeding access
// control, routing and the agent runtime, and the durable outbound queue
// that delivers replies and `send` messages.
package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/channels/access"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/outbox"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/routing"
	"github.com/pincerhq/pincer/core/secrets"
	"github.com/pincerhq/pincer/core/sessions"
	"github.com/pincerhq/pincer/core/store"
)

// Agents is what the manager needs from the agent runtime.
type Agents interface {
	Submit(ctx context.Context, t agent.Turn) (*agent.Ticket, error)
	AbortSession(key string) []string
	ResetSession(ctx context.Context, key string) (*sessions.Session, error)
	Status(ctx context.Context, key string) (agent.SessionStatus, error)
	SetSessionModel(ctx context.Context, key, ref string) error
	Inject(ctx context.Context, key, text, label string) (string, error)
}

// Options configure a Manager.
type Options struct {
	DB       *store.DB
	Config   func() *config.Config
	Sessions *sessions.Store
	Agents   Agents
	// Gateway receives the channel methods, events and webhook routes
	// (nil in some tests).
	Gateway *gateway.Server
	// Kinds are the channel kinds compiled in (WebChat is always added).
	Kinds    []channel.Kind
	StateDir string
	// Secrets opens the profile's secret store (nil: none).
	Secrets    func() secrets.Store
	Getenv     func(string) string
	HTTPClient *http.Client
	Log        *slog.Logger
	// Outbox tunes the outbound queue (tests shorten its delays).
	Outbox outbox.Options
	// TypingEvery is how often the typing indicator is renewed (4s).
	TypingEvery time.Duration
	// ReloadEvery is how often the config is checked for channel changes
	// (2s).
	ReloadEvery time.Duration
}

// managed is one configured channel account.
type managed struct {
	acct     channel.AccountConfig
	kind     channel.Kind
	raw      string // acct.Raw as JSON, to notice config changes
	plugin   channel.Plugin
	sup      *account
	policy   access.Policy
	buildErr error // the account could not be built from its config
	policyEr error
	stopped  bool // stopped by channels.stop: reconcile leaves it stopped
}

// Manager runs the channel accounts.
type Manager struct {
	opt    Options
	log    *slog.Logger
	kinds  map[string]channel.Kind
	order  []string
	access *access.Store
	out    *outbox.Queue
	in     *ingress
	web    *webchat

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}

	mu        sync.Mutex
	accounts  map[string]*managed // channelID + "/" + accountID
	defaults  map[string]string   // channelID → default account
	issues    []channelIssue      // config problems found by reconcile
	lastCfg   *config.Config
	bindings  []routing.Binding
	inflight  map[int64]bool // ingress rows being processed
	batches   map[string]*batch
	hooks     map[string]bool // webhook paths mounted on the gateway
	secrets   secrets.Store
	secretsOK bool
}

type channelIssue struct {
	channel, account, kind, message, fix string
}

func accountKey(ch, acct string) string { return ch + "/" + acct }

// New prepares a manager (Start runs it).
func New(ctx context.Context, opt Options) (*Manager, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{}
	}
	if opt.TypingEvery <= 0 {
		opt.TypingEvery = 4 * time.Second
	}
	if opt.ReloadEvery <= 0 {
		opt.ReloadEvery = 2 * time.Second
	}
	m := &Manager{opt: opt, log: opt.Log.With("component", "channels"), kinds: map[string]channel.Kind{},
		in: &ingress{db: opt.DB}, kick: make(chan struct{}, 1), accounts: map[string]*managed{},
		defaults: map[string]string{}, inflight: map[int64]bool{}, batches: map[string]*batch{}, hooks: map[string]bool{}}
	m.web = &webchat{m: m}
	for _, k := range append([]channel.Kind{m.web.kind()}, opt.Kinds...) {
		if _, dup := m.kinds[k.ID]; dup {
			return nil, fmt.Errorf("channels: kind %q registered twice", k.ID)
		}
		m.kinds[k.ID] = k
		m.order = append(m.order, k.ID)
	}
	var err error
	if m.access, err = access.Open(ctx, opt.DB); err != nil {
		return nil, err
	}
	oo := opt.Outbox
	if oo.Log == nil {
		oo.Log = m.log
	}
	userFailed := oo.OnFailed
	oo.OnFailed = func(it outbox.Item) {
		m.deliveryFailed(it)
		if userFailed != nil {
			userFailed(it)
		}
	}
	if m.out, err = outbox.Open(ctx, opt.DB, m, oo); err != nil {
		return nil, err
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Outbox is the outbound queue (cron deliveries and tools enqueue on it).
func (m *Manager) Outbox() *outbox.Queue { return m.out }

// Access is the pairing store.
func (m *Manager) Access() *access.Store { return m.access }

// Start starts the queues and the configured accounts.
func (m *Manager) Start() {
	m.wg.Add(3)
	go func() { defer m.wg.Done(); m.out.Run(m.ctx) }()
	go func() { defer m.wg.Done(); m.drain() }()
	go func() { defer m.wg.Done(); m.housekeeping() }()
	// Accounts start in the background: opening the secret store or a
	// plugin's setup must not delay the gateway's start.
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.Reconcile(); m.poke() }()
}

// Stop stops every account and the queues (bounded by timeout).
func (m *Manager) Stop(timeout time.Duration) {
	m.mu.Lock()
	var all []*managed
	for _, a := range m.accounts {
		all = append(all, a)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range all {
		if a.sup != nil {
			wg.Add(1)
			go func() { defer wg.Done(); a.sup.stop(timeout) }()
		}
	}
	wg.Wait()
	m.cancel()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		m.log.Warn("channel queues did not stop in time")
	}
}

// housekeeping reloads channel config changes and prunes old rows.
func (m *Manager) housekeeping() {
	reload := time.NewTicker(m.opt.ReloadEvery)
	defer reload.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-reload.C:
			m.mu.Lock()
			changed := m.lastCfg != m.opt.Config()
			m.mu.Unlock()
			if changed {
				m.Reconcile()
			}
		case <-prune.C:
			cut := time.Now().Add(-30 * 24 * time.Hour)
			if _, err := m.in.prune(m.ctx, cut); err != nil {
				m.log.Warn("pruning the inbound queue failed", "err", err)
			}
			if _, err := m.out.Prune(m.ctx, cut); err != nil {
				m.log.Warn("pruning the outbound queue failed", "err", err)
			}
		}
	}
}

// secretStore opens the secret store once.
func (m *Manager) secretStore() secrets.Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.secretsOK && m.opt.Secrets != nil {
		m.secrets, m.secretsOK = m.opt.Secrets(), true
	}
	return m.secrets
}

func (m *Manager) env(acct channel.AccountConfig) channel.Env {
	return channel.Env{StateDir: m.opt.StateDir, MediaDir: filepath.Join(m.opt.StateDir, "media", "inbound", acct.Channel, acct.AccountID),
		DB: m.opt.DB, Secrets: m.secretStore(), Getenv: m.opt.Getenv, HTTPClient: m.opt.HTTPClient,
		Log: m.log.With("channel", acct.Channel, "account", acct.AccountID)}
}

// Reconcile applies the channels config: new accounts start, changed ones
// restart, removed ones stop. Accounts stopped by channels.stop stay
// stopped until started again or their config changes.
func (m *Manager) Reconcile() {
	cfg := m.opt.Config()
	var issues []channelIssue
	bindings, err := routing.ParseBindings(cfg.Bindings)
	if err != nil {
		issues = append(issues, channelIssue{channel: "bindings", account: DefaultAccountID, kind: "config", message: err.Error(),
			fix: "fix the bindings list in the config file"})
	}
	want := map[string]channel.AccountConfig{}
	defaults := map[string]string{}
	raw := map[string]any{}
	for id, v := range cfg.Channels {
		raw[id] = v
	}
	if _, ok := raw[webchatID]; !ok {
		raw[webchatID] = map[string]any{}
	}
	for id, k := range m.kinds {
		if _, ok := raw[id]; !ok && k.Implicit != nil && k.Implicit(m.env(channel.AccountConfig{Channel: id, AccountID: DefaultAccountID})) {
			raw[id] = map[string]any{}
		}
	}
	for id, v := range raw {
		if _, ok := m.kinds[id]; !ok {
			issues = append(issues, channelIssue{channel: id, account: DefaultAccountID, kind: "config",
				message: "channel " + id + " is not supported by this build", fix: "remove channels." + id + " or use a build with it"})
			continue
		}
		cs, err := channelConfig(id, v)
		if err != nil {
			issues = append(issues, channelIssue{channel: id, account: DefaultAccountID, kind: "config", message: err.Error()})
			continue
		}
		defaults[id] = cs.DefaultAccount
		for _, a := range cs.Accounts {
			want[accountKey(id, a.AccountID)] = a
		}
	}
	owners := commandOwners(cfg)

	m.mu.Lock()
	m.lastCfg, m.issues, m.defaults = cfg, issues, defaults
	if err == nil {
		m.bindings = bindings
	}
	var stop []*managed
	var start []*managed
	for key, cur := range m.accounts {
		if _, ok := want[key]; !ok {
			stop = append(stop, cur)
			delete(m.accounts, key)
		}
	}
	for key, acct := range want {
		body, _ := json.Marshal(acct.Raw)
		cur := m.accounts[key]
		policy, perr := accessPolicy(acct, owners)
		if cur != nil && cur.raw == string(body) && cur.acct.Enabled == acct.Enabled {
			cur.policy, cur.policyEr = policy, perr
			continue
		}
		if cur != nil {
			stop = append(stop, cur)
		}
		next := &managed{acct: acct, kind: m.kinds[acct.Channel], raw: string(body), policy: policy, policyEr: perr}
		m.accounts[key] = next
		if acct.Enabled {
			start = append(start, next)
		}
	}
	m.mu.Unlock()

	for _, a := range stop {
		if a.sup != nil {
			a.sup.stop(10 * time.Second)
		}
	}
	for _, a := range start {
		if err := m.startAccount(a); err != nil {
			m.log.Warn("channel account not started", "channel", a.acct.Channel, "account", a.acct.AccountID, "err", err)
		}
	}
}

// startAccount builds the account's plugin (afresh: credentials may have
// changed) and runs it under supervision.
func (m *Manager) startAccount(a *managed) error {
	if a.policyEr != nil {
		m.setBuild(a, nil, a.policyEr)
		return a.policyEr
	}
	p, err := a.kind.New(m.env(a.acct), a.acct)
	if err != nil {
		m.setBuild(a, nil, err)
		return err
	}
	key := accountKey(a.acct.Channel, a.acct.AccountID)
	sup := newAccount(a.acct.Channel, a.acct.AccountID, p, m.receiver(a.acct.Channel, a.acct.AccountID), m.log)
	m.setBuild(a, p, nil)
	m.mu.Lock()
	old := a.sup
	a.sup, a.stopped = sup, false
	m.mu.Unlock()
	if old != nil {
		old.stop(10 * time.Second)
	}
	m.mountWebhook(key, p)
	sup.start()
	return nil
}

func (m *Manager) setBuild(a *managed, p channel.Plugin, err error) {
	m.mu.Lock()
	a.plugin, a.buildErr = p, err
	m.mu.Unlock()
}

// mountWebhook serves a plugin's webhook path on the gateway port. The
// route looks the account up per request, so a restarted or reconfigured
// account keeps working without remounting.
func (m *Manager) mountWebhook(key string, p channel.Plugin) {
	wh, ok := p.(channel.Webhook)
	if !ok || m.opt.Gateway == nil {
		return
	}
	path := wh.WebhookPath()
	if path == "" {
		return
	}
	m.mu.Lock()
	mounted := m.hooks[path]
	m.hooks[path] = true
	m.mu.Unlock()
	if mounted {
		return
	}
	m.opt.Gateway.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		var h http.Handler
		for _, a := range m.accounts {
			if wh, ok := a.plugin.(channel.Webhook); ok && wh.WebhookPath() == path && a.sup != nil && !a.stopped {
				h = wh.WebhookHandler()
			}
		}
		m.mu.Unlock()
		if h == nil {
			http.Error(w, "no channel account serves this webhook", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	}))
	m.log.Info("channel webhook mounted", "path", path, "account", key)
}

// lookup finds an account ("" = the channel's default account).
func (m *Manager) lookup(channelID, accountID string) (*managed, error) {
	channelID = strings.ToLower(strings.TrimSpace(channelID))
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kinds[channelID]; !ok {
		return nil, fmt.Errorf("unknown channel %q (known: %s)", channelID, strings.Join(m.order, ", "))
	}
	if accountID == "" {
		accountID = m.defaults[channelID]
		if accountID == "" {
			return nil, fmt.Errorf("channel %s is not configured (add channels.%s to the config file)", channelID, channelID)
		}
	}
	a := m.accounts[accountKey(channelID, routing.NormalizeAccountID(accountID))]
	if a == nil {
		return nil, fmt.Errorf("channel %s has no account %q", channelID, accountID)
	}
	return a, nil
}

// Send implements outbox.Sender: it hands a queued message to the
// account's plugin.
func (m *Manager) Send(ctx context.Context, channelID string, msg channel.Outbound) (channel.Delivery, error) {
	a, err := m.lookup(channelID, msg.AccountID)
	if err != nil {
		return channel.Delivery{}, channel.Permanent(err)
	}
	m.mu.Lock()
	p, sup, stopped := a.plugin, a.sup, a.stopped
	m.mu.Unlock()
	if p == nil || sup == nil || stopped {
		// Keep it queued: the account may be started again.
		return channel.Delivery{}, channel.Transient(fmt.Errorf("%s account %s is not running", channelID, a.acct.AccountID), 30*time.Second)
	}
	d, err := p.Send(ctx, msg)
	if err == nil {
		sup.mu.Lock()
		sup.lastOut = time.Now()
		sup.mu.Unlock()
	}
	return d, err
}

// deliveryFailed records a message that failed for good.
func (m *Manager) deliveryFailed(it outbox.Item) {
	m.log.Error("outbound message failed", "channel", it.Channel, "account", it.AccountID, "to", it.Msg.To.ID, "key", it.Key,
		"attempts", it.Attempts, "err", it.LastError)
	if a, err := m.lookup(it.Channel, it.AccountID); err == nil {
		m.mu.Lock()
		sup := a.sup
		m.mu.Unlock()
		if sup != nil {
			sup.mu.Lock()
			sup.lastDeliveryError = "delivery to " + it.Msg.To.ID + " failed: " + it.LastError
			sup.mu.Unlock()
		}
	}
}

// accountsSorted lists accounts in channel order, then by id.
func (m *Manager) accountsSorted() []*managed {
	m.mu.Lock()
	defer m.mu.Unlock()
	rank := map[string]int{}
	for i, id := range m.order {
		rank[id] = i
	}
	out := make([]*managed, 0, len(m.accounts))
	for _, a := range m.accounts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].acct.Channel != out[j].acct.Channel {
			return rank[out[i].acct.Channel] < rank[out[j].acct.Channel]
		}
		return out[i].acct.AccountID < out[j].acct.AccountID
	})
	return out
}
