// Package host is Pincer's node host (`pincer node run`): it keeps a
// role:"node" connection to a gateway (Pincer or OpenClaw), pairs with a
// device identity (or a setup code), declares what this machine can do,
// answers node.invoke.request events through node/commands, and reports host
// stats every minute.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pincerhq/pincer/core/auth/setupcode"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/client/deviceauth"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
	"github.com/pincerhq/pincer/node/commands"
)

// DefaultStatsInterval is how often host stats are reported.
const DefaultStatsInterval = 60 * time.Second

// Options configure a node host.
type Options struct {
	URL, Token, Password string
	// SetupCode pairs through a bootstrap token (and supplies the URL when
	// URL is empty).
	SetupCode   string
	DisplayName string
	// Secrets keeps the device identity and tokens.
	Secrets       secrets.Store
	Commands      commands.Config
	StatsInterval time.Duration
	Logger        *slog.Logger
	// OnHello is told about every successful (re)connect.
	OnHello func(h *protocol.HelloOk)
	// MaxResultBytes caps an invoke result; 0: the gateway's maxPayload
	// less room for the envelope. Larger results are answered with
	// PAYLOAD_TOO_LARGE instead of a frame the gateway would refuse.
	MaxResultBytes int
}

// Host is a running node host.
type Host struct {
	maxPayload atomic.Int64
	opt        Options
	reg        *commands.Registry
	sess       *client.Session
	log        *slog.Logger
	wg         sync.WaitGroup
}

// New probes this machine's capabilities and prepares the connection.
func New(ctx context.Context, opt Options) (*Host, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.StatsInterval <= 0 {
		opt.StatsInterval = DefaultStatsInterval
	}
	if opt.Secrets == nil {
		return nil, errors.New("node host: no secrets store for the device identity")
	}
	bootstrap := ""
	if opt.SetupCode != "" {
		p, err := setupcode.Decode(opt.SetupCode)
		if err != nil {
			return nil, fmt.Errorf("node host: %w", err)
		}
		if p.ExpiresAtMs > 0 && time.Now().UnixMilli() > p.ExpiresAtMs {
			return nil, errors.New("node host: the setup code has expired; create a new one with `pincer devices setup-code`")
		}
		if opt.URL == "" {
			opt.URL = p.URL
		}
		bootstrap = p.BootstrapToken
	}
	if opt.Commands.Logger == nil {
		opt.Commands.Logger = opt.Logger
	}
	h := &Host{opt: opt, log: opt.Logger}
	keys := deviceauth.New(opt.Secrets)
	ap := &approver{h: h, keys: keys, url: func() string { return opt.URL }}
	if opt.Commands.Approver == nil {
		opt.Commands.Approver = ap.decide
	}
	h.opt = opt
	h.reg = commands.Probe(ctx, opt.Commands)
	if id, err := keys.Identity(); err == nil {
		ap.nodeID = func() string { return id.DeviceID }
	} else {
		return nil, fmt.Errorf("node host: device identity: %w", err)
	}
	pathEnv := os.Getenv("PATH")
	copt := client.Options{
		URL: opt.URL, Token: opt.Token, Password: opt.Password, Role: protocol.RoleNode,
		ClientID: protocol.ClientNodeHost, ClientMode: protocol.ModeNode, DisplayName: opt.DisplayName,
		Caps: h.reg.Caps(), Scopes: []string{}, Logger: opt.Logger,
	}
	copt.ConnectParamsHook = func(p *protocol.ConnectParams, _ protocol.ChallengeEvent) {
		p.Commands = h.reg.Commands()
		p.PathEnv = &pathEnv
		if bootstrap != "" && opt.Token == "" && opt.Password == "" {
			if _, ok := keys.Token(copt.URL, protocol.RoleNode); !ok {
				bt := bootstrap
				p.Auth = &protocol.ConnectAuth{BootstrapToken: &bt}
			}
		}
	}
	copt.OnEvent = h.onEvent
	copt.OnHello = func(hello *protocol.HelloOk) {
		h.log.Info("node host connected", "url", copt.URL, "auth", hello.Auth.Method, "commands", len(h.reg.Commands()))
		h.maxPayload.Store(hello.Policy.MaxPayload)
		methods := append([]string(nil), hello.Features.Methods...)
		ap.features.Store(&methods)
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.sendStats() }()
		if opt.OnHello != nil {
			opt.OnHello(hello)
		}
	}
	signed, err := keys.Attach(copt, false)
	if err != nil {
		return nil, fmt.Errorf("node host: device identity: %w", err)
	}
	h.sess = client.NewSession(signed)
	return h, nil
}

// Commands are the commands this host declares.
func (h *Host) Commands() []string { return h.reg.Commands() }

// Caps are the capabilities this host declares.
func (h *Host) Caps() []string { return h.reg.Caps() }

// Run keeps the connection up until ctx ends.
func (h *Host) Run(ctx context.Context) error {
	defer h.reg.Close()
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(h.opt.StatsInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				h.sendStats()
			case <-stop:
				return
			}
		}
	}()
	err := h.sess.Run(ctx)
	close(stop)
	h.wg.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (h *Host) sendStats() {
	b, _ := json.Marshal(commands.HostStats())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res any
	if err := h.sess.Call(ctx, "node.event", map[string]any{"event": "node.host.stats", "payloadJSON": string(b)}, &res); err != nil {
		h.log.Debug("host stats not sent", "err", err)
	}
}

// onEvent runs on the read loop: invokes are handled on their own goroutine.
func (h *Host) onEvent(ev protocol.EventFrame) {
	switch ev.Event {
	case "node.invoke.request":
		var req protocol.NodeInvokeRequestEvent
		if err := json.Unmarshal(ev.Payload, &req); err != nil || req.ID == "" {
			h.log.Warn("malformed node.invoke.request", "err", err)
			return
		}
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.invoke(req) }()
	case "node.pair.resolved":
		h.log.Info("node pairing resolved", "payload", string(ev.Payload))
	}
}

// resultLimit is the largest payloadJSON this host sends.
func (h *Host) resultLimit() int {
	if h.opt.MaxResultBytes > 0 {
		return h.opt.MaxResultBytes
	}
	if m := h.maxPayload.Load(); m > 64<<10 {
		return int(m - 64<<10)
	}
	return 0
}

func (h *Host) invoke(req protocol.NodeInvokeRequestEvent) {
	timeout := time.Duration(req.TimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	payload, err := h.reg.Invoke(ctx, req.Command, req.ParamsJSON)
	cancel()
	res := map[string]any{"id": req.ID, "nodeId": req.NodeID}
	if err != nil {
		var ce *commands.Error
		if !errors.As(err, &ce) {
			ce = &commands.Error{Code: "UNAVAILABLE", Message: err.Error()}
		}
		res["ok"] = false
		res["error"] = map[string]any{"code": ce.Code, "message": ce.Message}
	} else {
		b, merr := json.Marshal(payload)
		if merr != nil {
			res["ok"] = false
			res["error"] = map[string]any{"code": "UNAVAILABLE", "message": "result not encodable: " + merr.Error()}
		} else if limit := h.resultLimit(); limit > 0 && len(b) > limit {
			res["ok"] = false
			res["error"] = map[string]any{"code": "PAYLOAD_TOO_LARGE",
				"message": fmt.Sprintf("%s result is %d bytes, over the %d-byte limit", req.Command, len(b), limit)}
		} else {
			res["ok"] = true
			res["payloadJSON"] = string(b)
		}
	}
	h.log.Info("node invoke", "command", req.Command, "ok", res["ok"])
	rctx, rcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer rcancel()
	var ack any
	if err := h.sess.Call(rctx, "node.invoke.result", res, &ack); err != nil {
		h.log.Warn("node invoke result not delivered", "id", req.ID, "err", err)
	}
}
