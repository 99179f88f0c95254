package channels

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/channels/access"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/outbox"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/routing"
)

// Register adds the channel methods and events to the gateway.
func (m *Manager) Register(srv *gateway.Server) {
	srv.Register(gateway.Method{Name: "channels.status", Scope: protocol.ScopeRead, Handler: m.handleStatus})
	srv.Register(gateway.Method{Name: "channels.start", Scope: protocol.ScopeAdmin, Handler: m.handleStart})
	srv.Register(gateway.Method{Name: "channels.stop", Scope: protocol.ScopeAdmin, Handler: m.handleStop})
	srv.Register(gateway.Method{Name: "channels.logout", Scope: protocol.ScopeAdmin, Handler: m.handleLogout})
	srv.Register(gateway.Method{Name: "send", Scope: protocol.ScopeWrite, Handler: m.handleSend})
	srv.Register(gateway.Method{Name: "channels.pairing.list", Scope: protocol.ScopePairing, Handler: m.handlePairingList})
	srv.Register(gateway.Method{Name: "channels.pairing.approve", Scope: protocol.ScopePairing, Handler: m.handlePairingApprove})
	srv.Register(gateway.Method{Name: "channels.pairing.dismiss", Scope: protocol.ScopePairing, Handler: m.handlePairingDismiss})
	srv.Register(gateway.Method{Name: "message.action", Scope: protocol.ScopeWrite, Handler: m.handleMessageAction})
	srv.RegisterEvent(EventMessage, gateway.EventGuard{AnyOf: []string{protocol.ScopeRead}})
}

func msPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

// accountStatus is one channelAccounts entry.
func (m *Manager) accountStatus(ctx context.Context, a *managed, probe bool, timeout time.Duration) (protocol.ChannelAccount, map[string]any) {
	m.mu.Lock()
	p, sup, buildErr, stopped := a.plugin, a.sup, a.buildErr, a.stopped
	m.mu.Unlock()
	ca := protocol.ChannelAccount{AccountID: a.acct.AccountID, Name: a.acct.Name, Enabled: a.acct.Enabled, HealthState: StateStopped}
	extra := map[string]any{}
	if a.policy.DMPolicy != "" {
		ca.DMPolicy = a.policy.DMPolicy
	} else if a.acct.Channel != webchatID {
		ca.DMPolicy = access.DMPolicyPairing
	}
	if buildErr != nil {
		e := buildErr.Error()
		ca.LastError, ca.HealthState = &e, "misconfigured"
		return ca, extra
	}
	if p == nil {
		ca.Configured = true
		if !a.acct.Enabled {
			ca.HealthState = "disabled"
		}
		return ca, extra
	}
	var snap snapshot
	if sup != nil {
		snap = sup.snapshot()
	} else {
		snap = snapshot{State: StateStopped, Status: p.Status()}
	}
	linked := snap.Status.Linked
	ca.Configured, ca.Linked, ca.Running, ca.Connected = snap.Status.Configured || true, &linked, snap.Running && !stopped, snap.Status.Connected
	ca.HealthState, ca.Mode = snap.State, snap.Status.Mode
	if snap.LastError != "" {
		e := snap.LastError
		ca.LastError = &e
	}
	ca.LastStartAt, ca.LastStopAt = msPtr(snap.LastStart), msPtr(snap.LastStop)
	ca.LastInboundAt, ca.LastOutboundAt = msPtr(snap.LastInbound), msPtr(snap.LastOutbound)
	extra["reconnectAttempts"] = snap.Restarts
	if snap.Status.Self != "" {
		extra["self"] = snap.Status.Self
	}
	if snap.DeliveryError != "" {
		extra["lastDeliveryError"] = snap.DeliveryError
	}
	if d, ok := p.(channel.Detailer); ok {
		for k, v := range d.StatusDetails() {
			extra[k] = v
		}
	}
	ca.ReconnectAttempts = snap.Restarts
	ca.TokenSource, _ = extra["tokenSource"].(string)
	ca.WebhookURL, _ = extra["webhookUrl"].(string)
	ca.WebhookPath, _ = extra["webhookPath"].(string)
	ca.BaseURL, _ = extra["baseUrl"].(string)
	if pr, ok := p.(channel.Prober); ok && probe {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		res, err := pr.Probe(pctx)
		cancel()
		switch {
		case err != nil && res == nil:
			extra["probe"] = map[string]any{"ok": false, "error": err.Error()}
		default:
			extra["probe"] = res
		}
		at := time.Now().UnixMilli()
		extra["lastProbeAt"], ca.LastProbeAt = at, &at
		ca.Probe, _ = json.Marshal(extra["probe"])
	}
	return ca, extra
}

func (m *Manager) handleStatus(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ChannelsStatusParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	want := strings.ToLower(strings.TrimSpace(p.Channel))
	if want != "" {
		if _, ok := m.kinds[want]; !ok {
			return nil, protocol.InvalidRequest("unknown channel: " + p.Channel)
		}
	}
	probe := p.Probe != nil && *p.Probe
	timeout := 8 * time.Second
	if p.TimeoutMs != nil && *p.TimeoutMs > 0 {
		timeout = time.Duration(*p.TimeoutMs) * time.Millisecond
	}
	res := protocol.ChannelsStatusResult{
		Ts: time.Now().UnixMilli(), ChannelOrder: []string{}, ChannelLabels: map[string]string{},
		ChannelDetailLabels: map[string]string{}, ChannelSystemImages: map[string]string{},
		ChannelMeta: []protocol.ChannelMeta{}, Channels: map[string]any{},
		ChannelAccounts: map[string][]protocol.ChannelAccount{}, ChannelDefaultAccountID: map[string]string{},
		StatusIssues: []protocol.ChannelStatusIssue{},
	}
	m.mu.Lock()
	defaults := map[string]string{}
	for k, v := range m.defaults {
		defaults[k] = v
	}
	issues := append([]channelIssue(nil), m.issues...)
	m.mu.Unlock()
	for _, a := range m.accountsSorted() {
		id := a.acct.Channel
		if want != "" && id != want {
			continue
		}
		if _, seen := res.ChannelAccounts[id]; !seen {
			k := m.kinds[id]
			res.ChannelOrder = append(res.ChannelOrder, id)
			res.ChannelLabels[id], res.ChannelDetailLabels[id] = k.Label, k.DetailLabel
			if k.SystemImage != "" {
				res.ChannelSystemImages[id] = k.SystemImage
			}
			res.ChannelMeta = append(res.ChannelMeta, protocol.ChannelMeta{ID: id, Label: k.Label, DetailLabel: k.DetailLabel, SystemImage: k.SystemImage})
			res.ChannelAccounts[id] = []protocol.ChannelAccount{}
			res.ChannelDefaultAccountID[id] = defaults[id]
		}
		ca, extra := m.accountStatus(ctx, a, probe, timeout)
		res.ChannelAccounts[id] = append(res.ChannelAccounts[id], ca)
		if a.acct.AccountID == defaults[id] {
			summary := map[string]any{"configured": ca.Configured, "running": ca.Running, "connected": ca.Connected,
				"healthState": ca.HealthState, "lastError": ca.LastError, "mode": ca.Mode}
			for k, v := range extra {
				summary[k] = v
			}
			res.Channels[id] = summary
		}
		res.StatusIssues = append(res.StatusIssues, accountIssues(id, ca)...)
		if de, ok := extra["lastDeliveryError"].(string); ok {
			res.StatusIssues = append(res.StatusIssues, protocol.ChannelStatusIssue{Channel: id, AccountID: ca.AccountID, Kind: "runtime",
				Message: de, Fix: "check the recipient and the account's permissions; later messages are still sent"})
		}
	}
	for _, is := range issues {
		if want == "" || is.channel == want {
			res.StatusIssues = append(res.StatusIssues, protocol.ChannelStatusIssue{Channel: is.channel, AccountID: is.account,
				Kind: is.kind, Message: is.message, Fix: is.fix})
		}
	}
	if len(res.StatusIssues) > 50 {
		res.StatusIssues = res.StatusIssues[:50]
	}
	return res, nil
}

// accountIssues turns an account's state into statusIssues.
func accountIssues(ch string, ca protocol.ChannelAccount) []protocol.ChannelStatusIssue {
	msg := ""
	if ca.LastError != nil {
		msg = *ca.LastError
	}
	switch ca.HealthState {
	case "misconfigured":
		return []protocol.ChannelStatusIssue{{Channel: ch, AccountID: ca.AccountID, Kind: "config", Message: msg,
			Fix: "fix channels." + ch + " in the config file"}}
	case StateFailed:
		return []protocol.ChannelStatusIssue{{Channel: ch, AccountID: ca.AccountID, Kind: "auth", Message: msg,
			Fix: "check the credentials, then: pincer channels start " + ch}}
	case StateDead:
		return []protocol.ChannelStatusIssue{{Channel: ch, AccountID: ca.AccountID, Kind: "runtime",
			Message: "linked but not connected for several minutes", Fix: "pincer channels stop " + ch + " && pincer channels start " + ch}}
	}
	return nil
}

// accountParams are the params of channels.start|stop|logout.
type accountParams struct {
	Channel   string `json:"channel"`
	AccountID string `json:"accountId,omitempty"`
}

func (m *Manager) bindAccount(call *gateway.Call) (*managed, error) {
	var p accountParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.Channel) == "" {
		return nil, protocol.InvalidRequest("channel is required")
	}
	a, err := m.lookup(p.Channel, p.AccountID)
	if err != nil && call.Method == "channels.start" {
		// Credentials may have appeared since (pincer channels login).
		m.Reconcile()
		a, err = m.lookup(p.Channel, p.AccountID)
	}
	if err != nil {
		return nil, protocol.InvalidRequest(err.Error())
	}
	return a, nil
}

func (m *Manager) handleStart(ctx context.Context, call *gateway.Call) (any, error) {
	a, err := m.bindAccount(call)
	if err != nil {
		return nil, err
	}
	if !a.acct.Enabled {
		return nil, protocol.InvalidRequest(fmt.Sprintf("%s account %s is disabled in the config (enabled: false)", a.acct.Channel, a.acct.AccountID))
	}
	if err := m.startAccount(a); err != nil {
		return nil, protocol.Unavailable(fmt.Sprintf("%s account %s: %v", a.acct.Channel, a.acct.AccountID, err), 0)
	}
	m.poke()
	return map[string]any{"ok": true, "channel": a.acct.Channel, "accountId": a.acct.AccountID, "started": true}, nil
}

func (m *Manager) handleStop(ctx context.Context, call *gateway.Call) (any, error) {
	a, err := m.bindAccount(call)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	sup := a.sup
	a.stopped = true
	m.mu.Unlock()
	stopped := sup == nil || sup.stop(10*time.Second)
	return map[string]any{"ok": true, "channel": a.acct.Channel, "accountId": a.acct.AccountID, "stopped": stopped}, nil
}

func (m *Manager) handleLogout(ctx context.Context, call *gateway.Call) (any, error) {
	a, err := m.bindAccount(call)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	sup, p := a.sup, a.plugin
	a.stopped = true
	m.mu.Unlock()
	if sup != nil {
		sup.stop(10 * time.Second)
	}
	lo, ok := p.(channel.Logouter)
	if !ok {
		return nil, protocol.InvalidRequest(fmt.Sprintf("%s has no login to forget; it was stopped (remove channels.%s from the config to disable it)",
			a.acct.Channel, a.acct.Channel))
	}
	if err := lo.Logout(ctx); err != nil {
		return nil, protocol.Unavailable(err.Error(), 0)
	}
	return map[string]any{"ok": true, "channel": a.acct.Channel, "accountId": a.acct.AccountID, "cleared": true, "loggedOut": true}, nil
}

// sendParams are the params of send (spec §5.4).
type sendParams struct {
	To             string   `json:"to"`
	Message        string   `json:"message,omitempty"`
	MediaURL       string   `json:"mediaUrl,omitempty"`
	MediaURLs      []string `json:"mediaUrls,omitempty"`
	Buffer         string   `json:"buffer,omitempty"`
	Filename       string   `json:"filename,omitempty"`
	ContentType    string   `json:"contentType,omitempty"`
	AsVoice        bool     `json:"asVoice,omitempty"`
	Channel        string   `json:"channel,omitempty"`
	AccountID      string   `json:"accountId,omitempty"`
	ReplyToID      string   `json:"replyToId,omitempty"`
	ThreadID       string   `json:"threadId,omitempty"`
	Silent         bool     `json:"silent,omitempty"`
	SessionKey     string   `json:"sessionKey,omitempty"`
	IdempotencyKey string   `json:"idempotencyKey"`
}

// sendWait is how long send waits for the platform before answering that
// the message is queued.
const sendWait = 30 * time.Second

// maxSendBuffer caps an inline (base64) attachment of send.
const maxSendBuffer = 50 << 20

func (m *Manager) handleSend(ctx context.Context, call *gateway.Call) (any, error) {
	var p sendParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.IdempotencyKey) == "" {
		return nil, protocol.InvalidRequest("invalid send params: must have required property 'idempotencyKey'")
	}
	return m.deliverSend(ctx, p, "send:")
}

// deliverSend queues a send (idempotent under keyPrefix+idempotencyKey)
// and waits a while for the platform.
func (m *Manager) deliverSend(ctx context.Context, p sendParams, keyPrefix string) (map[string]any, error) {
	if strings.TrimSpace(p.To) == "" {
		return nil, protocol.InvalidRequest("invalid send params: to must not be empty")
	}
	ch, to, err := m.target(p.Channel, p.To)
	if err != nil {
		return nil, err
	}
	a, err := m.lookup(ch, p.AccountID)
	if err != nil {
		return nil, protocol.InvalidRequest(err.Error())
	}
	msg := channel.Outbound{AccountID: a.acct.AccountID, To: channel.Peer{Kind: peerKindOf(to), ID: to, ThreadID: p.ThreadID},
		Text: p.Message, ReplyToID: p.ReplyToID, Silent: p.Silent}
	if p.ThreadID != "" {
		msg.To.TopicKind = "thread"
	}
	seen := map[string]bool{}
	for _, u := range append([]string{p.MediaURL}, p.MediaURLs...) {
		if u = strings.TrimSpace(u); u != "" && !seen[u] {
			seen[u] = true
			msg.Media = append(msg.Media, mediaFromRef(u, p.AsVoice))
		}
	}
	if p.Buffer != "" {
		md, err := m.saveBuffer(p)
		if err != nil {
			return nil, err
		}
		msg.Media = append(msg.Media, md)
	}
	if strings.TrimSpace(msg.Text) == "" && len(msg.Media) == 0 {
		return nil, protocol.InvalidRequest("send needs a message or media")
	}
	it, err := m.out.Enqueue(ctx, keyPrefix+p.IdempotencyKey, ch, msg)
	if err != nil {
		return nil, protocol.Unavailable(err.Error(), 0)
	}
	wctx, cancel := context.WithTimeout(ctx, sendWait)
	defer cancel()
	it, err = m.out.Wait(wctx, it.ID)
	switch {
	case err == nil:
	case errors.Is(err, outbox.ErrFailed):
		return nil, &protocol.Error{Code: protocol.CodeUnavailable, Message: "OutboundDeliveryError: " + it.LastError,
			Details: map[string]any{"code": "OUTBOUND_DELIVERY_FAILED"}}
	default:
		return nil, &protocol.Error{Code: protocol.CodeUnavailable, Message: "OutboundDeliveryError: not delivered yet (" + lastErr(it) + "); the message stays queued and will be retried",
			Details: map[string]any{"code": "OUTBOUND_DELIVERY_QUEUED"}}
	}
	out := map[string]any{"runId": p.IdempotencyKey, "messageId": it.Delivery.MessageID, "channel": ch}
	if it.Delivery.ChatID != "" {
		out["chatId"] = it.Delivery.ChatID
	} else {
		out["chatId"] = to
	}
	return out, nil
}

// target resolves a send target: "telegram:123" names its channel; a
// bare id needs the channel (or a single configured one).
func (m *Manager) target(chParam, toParam string) (ch, to string, err error) {
	ch = strings.ToLower(strings.TrimSpace(chParam))
	to = strings.TrimSpace(toParam)
	if ch == "" {
		if pre, rest, ok := strings.Cut(to, ":"); ok && m.kinds[strings.ToLower(pre)].ID != "" {
			return strings.ToLower(pre), rest, nil
		}
		if ch = m.onlyChannel(); ch == "" {
			return "", "", protocol.InvalidRequest("channel is required (several channels are configured)")
		}
		return ch, to, nil
	}
	if pre, rest, ok := strings.Cut(to, ":"); ok && strings.EqualFold(pre, ch) {
		to = rest
	}
	return ch, to, nil
}

// messageActionParams are the params of message.action (what the official
// `openclaw message send|react` sends).
type messageActionParams struct {
	Channel   string         `json:"channel"`
	Action    string         `json:"action"`
	Params    map[string]any `json:"params"`
	AccountID string         `json:"accountId,omitempty"`
	Reply     *struct {
		ReplyToID string `json:"replyToId"`
	} `json:"reply,omitempty"`
	IdempotencyKey string `json:"idempotencyKey"`
}

func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		case float64:
			return fmt.Sprintf("%.0f", v)
		}
	}
	return ""
}

// handleMessageAction runs a channel message action: send and react.
func (m *Manager) handleMessageAction(ctx context.Context, call *gateway.Call) (any, error) {
	var p messageActionParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.IdempotencyKey) == "" || strings.TrimSpace(p.Channel) == "" || strings.TrimSpace(p.Action) == "" {
		return nil, protocol.InvalidRequest("invalid message.action params: channel, action and idempotencyKey are required")
	}
	q := p.Params
	acct := p.AccountID
	if acct == "" {
		acct = str(q, "accountId")
	}
	to := str(q, "to", "target")
	switch p.Action {
	case "send":
		sp := sendParams{To: to, Message: str(q, "message", "text"), MediaURL: str(q, "mediaUrl", "media"), Channel: p.Channel,
			AccountID: acct, ReplyToID: str(q, "replyTo", "replyToId"), ThreadID: str(q, "threadId"), IdempotencyKey: p.IdempotencyKey}
		if urls, ok := q["mediaUrls"].([]any); ok {
			for _, u := range urls {
				if s, ok := u.(string); ok {
					sp.MediaURLs = append(sp.MediaURLs, s)
				}
			}
		}
		sp.Silent, _ = q["silent"].(bool)
		sp.AsVoice, _ = q["asVoice"].(bool)
		if sp.ReplyToID == "" && p.Reply != nil {
			sp.ReplyToID = p.Reply.ReplyToID
		}
		res, err := m.deliverSend(ctx, sp, "action:")
		if err != nil {
			return nil, err
		}
		res["ok"], res["action"], res["deliveryStatus"] = true, "send", "sent"
		return res, nil
	case "react":
		ch, target, err := m.target(p.Channel, to)
		if err != nil {
			return nil, err
		}
		a, err := m.lookup(ch, acct)
		if err != nil {
			return nil, protocol.InvalidRequest(err.Error())
		}
		emoji := str(q, "emoji")
		remove, _ := q["remove"].(bool)
		if remove {
			emoji = "-"
		} else if emoji == "" {
			return nil, protocol.InvalidRequest("react needs an emoji")
		}
		if _, err := m.react(ctx, a, ch, channel.Peer{ID: target, Kind: peerKindOf(target), ThreadID: str(q, "threadId")},
			str(q, "messageId"), emoji); err != nil {
			return nil, protocol.InvalidRequest(err.Error())
		}
		if remove {
			return map[string]any{"ok": true, "removed": str(q, "emoji")}, nil
		}
		return map[string]any{"ok": true, "added": emoji}, nil
	}
	return nil, protocol.InvalidRequest(fmt.Sprintf("message action %q is not supported by this gateway (supported: send, react)", p.Action))
}

func lastErr(it outbox.Item) string {
	if it.LastError != "" {
		return it.LastError
	}
	return it.Status
}

// onlyChannel is the single configured messaging channel, if there is one.
func (m *Manager) onlyChannel() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	only := ""
	for id := range m.defaults {
		if id == webchatID {
			continue
		}
		if only != "" {
			return ""
		}
		only = id
	}
	return only
}

// peerKindOf guesses a target's kind: negative ids (Telegram groups) and
// "#room" / "@channel" names are not DMs.
func peerKindOf(to string) string {
	switch {
	case strings.HasPrefix(to, "-"):
		return channel.PeerGroup
	case strings.HasPrefix(to, "#"), strings.HasPrefix(to, "@"):
		return channel.PeerChannel
	}
	return channel.PeerDirect
}

func mediaFromRef(ref string, voice bool) channel.Media {
	md := channel.Media{Kind: mediaKind(ref, "", voice)}
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		md.URL = ref
	} else {
		md.Path = ref
	}
	md.FileName = filepath.Base(ref)
	return md
}

func mediaKind(name, mime string, voice bool) string {
	if voice {
		return "voice"
	}
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case strings.HasPrefix(mime, "image/"), ext == ".png", ext == ".jpg", ext == ".jpeg", ext == ".gif", ext == ".webp":
		return "image"
	case strings.HasPrefix(mime, "audio/"), ext == ".mp3", ext == ".m4a", ext == ".ogg", ext == ".opus", ext == ".wav":
		return "audio"
	case strings.HasPrefix(mime, "video/"), ext == ".mp4", ext == ".mov", ext == ".webm":
		return "video"
	}
	return "document"
}

// saveBuffer writes send's inline attachment under the state dir (the
// queue stores a path, not the bytes).
func (m *Manager) saveBuffer(p sendParams) (channel.Media, error) {
	data, err := base64.StdEncoding.DecodeString(p.Buffer)
	if err != nil {
		return channel.Media{}, protocol.InvalidRequest("buffer is not valid base64")
	}
	if len(data) > maxSendBuffer {
		return channel.Media{}, protocol.InvalidRequest(fmt.Sprintf("buffer is larger than %d MiB", maxSendBuffer>>20))
	}
	name := filepath.Base(strings.TrimSpace(p.Filename))
	if name == "" || name == "." || name == "/" {
		name = "attachment"
	}
	sum := sha256.Sum256([]byte(p.IdempotencyKey))
	dir := filepath.Join(m.opt.StateDir, "media", "outbound", fmt.Sprintf("%x", sum[:8]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return channel.Media{}, protocol.Unavailable(err.Error(), 0)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return channel.Media{}, protocol.Unavailable(err.Error(), 0)
	}
	return channel.Media{Kind: mediaKind(name, p.ContentType, p.AsVoice), MimeType: p.ContentType, FileName: name, Path: path,
		Size: int64(len(data))}, nil
}

// requestID is OpenClaw's stable id of a pairing request.
func requestID(r access.Request) string {
	sum := sha256.Sum256([]byte(r.Channel + "\x00" + r.AccountID + "\x00" + r.SenderID + "\x00" + isoTime(r.CreatedAt)))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:32]
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// pairingAccounts are the accounts under dmPolicy pairing.
func (m *Manager) pairingAccounts(chFilter, acctFilter string) ([]*managed, error) {
	chFilter = strings.ToLower(strings.TrimSpace(chFilter))
	if chFilter != "" {
		if _, ok := m.kinds[chFilter]; !ok || chFilter == webchatID {
			return nil, protocol.InvalidRequest("unknown pairing channel: " + chFilter)
		}
	}
	var out []*managed
	for _, a := range m.accountsSorted() {
		if a.acct.Channel == webchatID || chFilter != "" && a.acct.Channel != chFilter {
			continue
		}
		if acctFilter != "" && !strings.EqualFold(a.acct.AccountID, routing.NormalizeAccountID(acctFilter)) {
			continue
		}
		if pol := a.policy.DMPolicy; pol != "" && pol != access.DMPolicyPairing {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (m *Manager) publicRequest(r access.Request) map[string]any {
	k := m.kinds[r.Channel]
	meta := map[string]any{"code": r.Code}
	if r.SenderUsername != "" {
		meta["username"] = r.SenderUsername
	}
	if r.SenderName != "" {
		meta["name"] = r.SenderName
	}
	return map[string]any{"requestId": requestID(r), "channel": r.Channel, "channelLabel": k.Label, "accountId": r.AccountID,
		"senderId": r.SenderID, "senderLabel": "userId", "metadata": meta, "createdAt": isoTime(r.CreatedAt),
		"lastSeenAt": isoTime(r.LastSeenAt), "expiresAt": isoTime(r.ExpiresAt), "notifySupported": true}
}

type pairingListParams struct {
	Channel   string `json:"channel,omitempty"`
	AccountID string `json:"accountId,omitempty"`
}

func (m *Manager) handlePairingList(ctx context.Context, call *gateway.Call) (any, error) {
	var p pairingListParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	accts, err := m.pairingAccounts(p.Channel, p.AccountID)
	if err != nil {
		return nil, err
	}
	accounts := []map[string]any{}
	requests := []map[string]any{}
	seen := map[string]bool{}
	for _, a := range accts {
		k := a.kind
		entry := map[string]any{"channel": k.ID, "channelLabel": k.Label, "accountId": a.acct.AccountID, "notifySupported": true}
		if a.acct.Name != "" {
			entry["accountLabel"] = a.acct.Name
		}
		accounts = append(accounts, entry)
		if seen[k.ID] {
			continue
		}
		seen[k.ID] = true
		pending, err := m.access.Pending(ctx, k.ID)
		if err != nil {
			return nil, protocol.Unavailable(err.Error(), 0)
		}
		for _, r := range pending {
			if p.AccountID != "" && !strings.EqualFold(r.AccountID, routing.NormalizeAccountID(p.AccountID)) {
				continue
			}
			requests = append(requests, m.publicRequest(r))
		}
	}
	cfg := m.opt.Config()
	return map[string]any{"accounts": accounts, "requests": requests, "commandOwnerConfigured": len(commandOwners(cfg)) > 0,
		"limits": map[string]any{"pendingPerAccount": access.MaxPending, "ttlMs": time.Hour.Milliseconds()}}, nil
}

type pairingResolveParams struct {
	Channel               string `json:"channel"`
	AccountID             string `json:"accountId"`
	RequestID             string `json:"requestId"`
	Notify                *bool  `json:"notify,omitempty"`
	BootstrapCommandOwner *bool  `json:"bootstrapCommandOwner,omitempty"`
}

// findRequest resolves a requestId (or a pairing code) to a pending
// request.
func (m *Manager) findRequest(ctx context.Context, p pairingResolveParams) (access.Request, error) {
	if strings.TrimSpace(p.Channel) == "" || strings.TrimSpace(p.RequestID) == "" {
		return access.Request{}, protocol.InvalidRequest("channel and requestId are required")
	}
	accts, err := m.pairingAccounts(p.Channel, p.AccountID)
	if err != nil {
		return access.Request{}, err
	}
	if len(accts) == 0 {
		return access.Request{}, protocol.InvalidRequest(fmt.Sprintf("channel account does not use DM pairing: %s:%s", p.Channel, p.AccountID))
	}
	pending, err := m.access.Pending(ctx, accts[0].acct.Channel)
	if err != nil {
		return access.Request{}, protocol.Unavailable(err.Error(), 0)
	}
	for _, r := range pending {
		if p.AccountID != "" && !strings.EqualFold(r.AccountID, routing.NormalizeAccountID(p.AccountID)) {
			continue
		}
		if requestID(r) == p.RequestID || strings.EqualFold(r.Code, strings.TrimSpace(p.RequestID)) {
			return r, nil
		}
	}
	return access.Request{}, protocol.InvalidRequest("pending DM access request no longer exists")
}

func (m *Manager) handlePairingApprove(ctx context.Context, call *gateway.Call) (any, error) {
	var p pairingResolveParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if p.BootstrapCommandOwner != nil && *p.BootstrapCommandOwner && !call.Conn.HasScope(protocol.ScopeAdmin) {
		return nil, protocol.MissingScope(protocol.ScopeAdmin)
	}
	r, err := m.findRequest(ctx, p)
	if err != nil {
		return nil, err
	}
	approved, err := m.access.Approve(ctx, r.Channel, r.Code)
	if errors.Is(err, access.ErrUnknownCode) {
		return nil, protocol.InvalidRequest("pending DM access request no longer exists")
	}
	if err != nil {
		return nil, protocol.Unavailable(err.Error(), 0)
	}
	notification := "not-requested"
	if p.Notify != nil && *p.Notify {
		msg := channel.Outbound{AccountID: approved.AccountID, To: channel.Peer{Kind: channel.PeerDirect, ID: approved.SenderID},
			Text: "Pincer: access approved. Send a message to start."}
		if _, err := m.out.Enqueue(ctx, "pairing-approved:"+r.Channel+":"+r.AccountID+":"+r.Code, r.Channel, msg); err != nil {
			notification = "failed"
		} else {
			notification = "sent"
		}
	}
	commandOwner := "not-requested"
	if p.BootstrapCommandOwner != nil && *p.BootstrapCommandOwner {
		commandOwner = "unavailable" // owners are set in commands.ownerAllowFrom
	}
	m.log.Info("channel sender approved", "channel", r.Channel, "account", r.AccountID, "sender", approved.SenderID)
	return map[string]any{"requestId": p.RequestID, "senderId": approved.SenderID, "notification": notification,
		"commandOwnerBootstrap": commandOwner}, nil
}

func (m *Manager) handlePairingDismiss(ctx context.Context, call *gateway.Call) (any, error) {
	var p pairingResolveParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	r, err := m.findRequest(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := m.access.Dismiss(ctx, r.Channel, r.Code); err != nil {
		if errors.Is(err, access.ErrUnknownCode) {
			return nil, protocol.InvalidRequest("pending DM access request no longer exists")
		}
		return nil, protocol.Unavailable(err.Error(), 0)
	}
	return map[string]any{"requestId": p.RequestID, "senderId": r.SenderID}, nil
}

// Health is the channels part of the health snapshot: per channel the
// default account's state, the channel order and labels.
func (m *Manager) Health() (map[string]any, []string, map[string]string) {
	chans := map[string]any{}
	var order []string
	labels := map[string]string{}
	m.mu.Lock()
	defaults := map[string]string{}
	for k, v := range m.defaults {
		defaults[k] = v
	}
	m.mu.Unlock()
	for _, a := range m.accountsSorted() {
		id := a.acct.Channel
		if _, ok := labels[id]; !ok {
			order = append(order, id)
			labels[id] = m.kinds[id].Label
		}
		if a.acct.AccountID != defaults[id] {
			continue
		}
		ca, _ := m.accountStatus(context.Background(), a, false, 0)
		chans[id] = map[string]any{"configured": ca.Configured, "running": ca.Running, "connected": ca.Connected,
			"healthState": ca.HealthState, "lastError": ca.LastError, "accountId": ca.AccountID}
	}
	if order == nil {
		order = []string{}
	}
	return chans, order, labels
}
