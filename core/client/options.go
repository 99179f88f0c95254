package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/protocol"
)

// ClientVersion is sent as client.version in connect. The official gateway
// compares it with its own release in places (CLIENT_VERSION_MISMATCH), so it
// defaults to the OpenClaw release whose wire behaviour Pincer follows.
var ClientVersion = protocol.CompatVersion

// DefaultURL is the local gateway's address.
var DefaultURL = fmt.Sprintf("ws://127.0.0.1:%d", protocol.DefaultPort)

// Defaults of the reference client (spec §1.5).
const (
	DefaultRequestTimeout   = 30 * time.Second
	DefaultChallengeTimeout = 15 * time.Second
	DefaultBackoffMin       = 1 * time.Second
	DefaultBackoffMax       = 30 * time.Second
)

// Options configure one connection (Dial) or a reconnecting Session.
type Options struct {
	URL string // ws://host:port[/path]; http(s) is accepted as ws(s)

	// Shared secret, sent as connect auth.token / auth.password; auth is
	// omitted when both are empty.
	Token, Password string

	ClientID, ClientMode string // default "cli" / "cli"

	// Client description. Version defaults to ClientVersion, Platform and
	// DeviceFamily to what the official Node CLI reports on this OS
	// ("linux"/"Linux", "darwin"/"Mac"), InstanceID to a fresh UUID.
	DisplayName, Version, Platform, DeviceFamily, InstanceID string

	Role   string   // default "operator"
	Scopes []string // nil: ["operator.read"] for operators, [] for nodes
	Caps   []string

	MinProtocol, MaxProtocol int // default 4 / 4

	RequestTimeout   time.Duration // per request; default 30s
	ChallengeTimeout time.Duration // wait for connect.challenge; default 15s

	// TickWatchdog closes the connection with 4000 "tick timeout" when no
	// frame arrived for this long. 0: 2 × hello-ok policy.tickIntervalMs;
	// negative: disabled.
	TickWatchdog time.Duration

	// Reconnect backoff of a Session: BackoffMin doubling up to BackoffMax.
	// 0: 1s and 30s.
	BackoffMin, BackoffMax time.Duration

	Header http.Header // extra headers on the upgrade request

	// Callbacks. OnEvent, OnGap and OnHello run on the read loop, in frame
	// order, so they must not block on a Call of the same client (the reply
	// could not be read until they return).
	OnEvent      func(ev protocol.EventFrame) // every event except connect.challenge
	OnGap        func(expected, received int64)
	OnHello      func(h *protocol.HelloOk)
	OnDisconnect func(err error) // once, after a successful hello, before Done closes

	// ConnectParamsHook may change the connect params before they are sent
	// (the device-identity layer signs them here). It sees the challenge.
	ConnectParamsHook func(p *protocol.ConnectParams, challenge protocol.ChallengeEvent)

	Logger *slog.Logger
}

// withDefaults validates the options and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return o, fmt.Errorf("client: invalid gateway URL %q: %w", o.URL, err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return o, fmt.Errorf("client: invalid gateway URL %q: scheme must be ws or wss", o.URL)
	}
	if u.Host == "" {
		return o, fmt.Errorf("client: invalid gateway URL %q: no host", o.URL)
	}
	if o.ClientID == "" {
		o.ClientID = protocol.ClientCLI
	}
	if o.ClientMode == "" {
		o.ClientMode = protocol.ModeCLI
	}
	if o.Version == "" {
		o.Version = ClientVersion
	}
	if o.Platform == "" {
		o.Platform = defaultPlatform()
	}
	if o.DeviceFamily == "" {
		o.DeviceFamily = defaultDeviceFamily()
	}
	if o.InstanceID == "" {
		o.InstanceID = uuid.NewString()
	}
	if o.Role == "" {
		o.Role = protocol.RoleOperator
	}
	if o.Scopes == nil {
		if o.Role == protocol.RoleOperator {
			o.Scopes = []string{protocol.ScopeRead}
		} else {
			o.Scopes = []string{}
		}
	}
	if o.MinProtocol == 0 {
		o.MinProtocol = protocol.Version
	}
	if o.MaxProtocol == 0 {
		o.MaxProtocol = protocol.Version
	}
	if o.MinProtocol > o.MaxProtocol {
		return o, errors.New("client: MinProtocol > MaxProtocol")
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.ChallengeTimeout <= 0 {
		o.ChallengeTimeout = DefaultChallengeTimeout
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// defaultPlatform mirrors Node's process.platform, which the official CLI
// sends as client.platform.
func defaultPlatform() string {
	if runtime.GOOS == "windows" {
		return "win32"
	}
	return runtime.GOOS
}

func defaultDeviceFamily() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Mac"
	case "windows":
		return "Windows"
	}
	return ""
}

// connectParams builds the connect params from the options.
func (o Options) connectParams() protocol.ConnectParams {
	p := protocol.ConnectParams{
		MinProtocol: o.MinProtocol,
		MaxProtocol: o.MaxProtocol,
		Client: protocol.ClientInfo{
			ID:           o.ClientID,
			DisplayName:  o.DisplayName,
			Version:      o.Version,
			Platform:     o.Platform,
			DeviceFamily: o.DeviceFamily,
			Mode:         o.ClientMode,
			InstanceID:   o.InstanceID,
		},
		Caps:   append([]string{}, o.Caps...),
		Role:   o.Role,
		Scopes: append([]string{}, o.Scopes...),
	}
	if o.Token != "" || o.Password != "" {
		p.Auth = &protocol.ConnectAuth{}
		if o.Token != "" {
			t := o.Token
			p.Auth.Token = &t
		}
		if o.Password != "" {
			pw := o.Password
			p.Auth.Password = &pw
		}
	}
	return p
}
