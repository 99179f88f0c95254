package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/client/deviceauth"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
)

const defaultTimeout = 30 * time.Second

// clientFlags are the flags every command that talks to a gateway has.
type clientFlags struct {
	url      string
	token    string
	password string
	json     bool
	timeout  time.Duration
}

func addClientFlags(cmd *cobra.Command, f *clientFlags) {
	fs := cmd.Flags()
	fs.StringVar(&f.url, "url", "", "gateway `URL` (default: $PINCER_GATEWAY_URL, then ws://127.0.0.1:<gateway.port>)")
	fs.StringVar(&f.token, "token", "", "gateway `TOKEN` (default: $PINCER_GATEWAY_TOKEN, config, then the generated token)")
	fs.StringVar(&f.password, "password", "", "gateway `PASSWORD` (default: $PINCER_GATEWAY_PASSWORD, then config)")
	fs.BoolVar(&f.json, "json", false, "print the raw JSON result")
	f.timeout = defaultTimeout
	fs.Var((*durationValue)(&f.timeout), "timeout", "give up after `DURATION` (e.g. 30s; a bare number is milliseconds)")
}

// durationValue parses "30s"/"2m" like time.Duration, and a bare number as
// milliseconds like the official CLI's --timeout.
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Type() string   { return "duration" }
func (d *durationValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms <= 0 {
			return errors.New("must be positive")
		}
		*d = durationValue(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (e.g. 30s, 2m, or milliseconds)")
	}
	if v <= 0 {
		return errors.New("must be positive")
	}
	*d = durationValue(v)
	return nil
}

// target is where and how a client command connects.
type target struct {
	URL         string
	Token       string
	Password    string
	URLSource   string // "--url", an env var, "config", "default"
	TokenSource string // "--token", an env var, "config", "token file", ""
	TokenPath   string // the token file that was (or would be) read
	Warnings    []string
}

// resolveTarget applies the precedence:
//
//	URL:    --url > PINCER_GATEWAY_URL / OPENCLAW_GATEWAY_URL > ws://127.0.0.1:<port from config, 18789>
//	secret: --token/--password > PINCER_/OPENCLAW_GATEWAY_TOKEN / _PASSWORD
//	        > config gateway.auth.token / .password > the generated token file
//
// The local config and token file are only used when the URL points at this
// machine: they are the local gateway's secrets and must not be sent to a
// remote gateway named with --url.
func resolveTarget(profile string, f *clientFlags) (target, error) {
	var t target
	var cfg *config.Config
	var paths config.Paths
	var pathsErr error
	loaded := false
	load := func() {
		if loaded {
			return
		}
		loaded = true
		paths, pathsErr = config.ResolvePaths(profile)
		if pathsErr != nil {
			t.Warnings = append(t.Warnings, "cannot locate the state directory: "+pathsErr.Error())
			cfg = config.Defaults()
			return
		}
		c, _, err := config.Load(paths)
		if err != nil {
			t.Warnings = append(t.Warnings, fmt.Sprintf("ignoring config problems in %s (run 'pincer config validate')", paths.ConfigPath))
		}
		if c == nil {
			c = config.Defaults()
		}
		c.ApplyEnv()
		cfg = c
	}

	switch {
	case f.url != "":
		t.URL, t.URLSource = f.url, "--url"
	case config.GatewayURLFromEnv() != "":
		t.URL, t.URLSource = config.GatewayURLFromEnv(), envName(config.EnvGatewayURL, config.EnvOpenClawGatewayURL)
	default:
		load()
		port := cfg.Gateway.Port
		if port <= 0 {
			port = config.DefaultPort
		}
		t.URL, t.URLSource = "ws://127.0.0.1:"+strconv.Itoa(port), "config"
	}
	u, err := normalizeURL(t.URL)
	if err != nil {
		return t, usagef("invalid gateway URL %q (from %s): %v", t.URL, t.URLSource, err)
	}
	t.URL = u

	switch {
	case f.token != "" || f.password != "":
		t.Token, t.Password, t.TokenSource = f.token, f.password, "flags"
	case config.GatewayTokenFromEnv() != "" || config.GatewayPasswordFromEnv() != "":
		t.Token, t.Password = config.GatewayTokenFromEnv(), config.GatewayPasswordFromEnv()
		t.TokenSource = "environment"
	case isLoopbackURL(t.URL):
		load()
		t.Token, t.Password = cfg.Gateway.Auth.Token, cfg.Gateway.Auth.Password
		if t.Token != "" || t.Password != "" {
			t.TokenSource = "config"
		}
		if t.Token == "" && pathsErr == nil {
			t.TokenPath = paths.TokenPath()
			b, err := os.ReadFile(t.TokenPath)
			switch {
			case err == nil:
				if tok := strings.TrimSpace(string(b)); tok != "" {
					t.Token, t.TokenSource = tok, "token file"
				}
			case !errors.Is(err, os.ErrNotExist):
				t.Warnings = append(t.Warnings, "cannot read the gateway token: "+err.Error())
			}
		}
	}
	return t, nil
}

func envName(names ...string) string {
	for _, n := range names {
		if os.Getenv(n) != "" {
			return n
		}
	}
	return names[0]
}

// normalizeURL accepts ws(s)://, http(s):// and a bare host:port.
func normalizeURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("scheme %q is not ws or wss", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	return u.String(), nil
}

func isLoopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// session is one connected client command.
type session struct {
	c       *client.Client
	target  target
	elapsed time.Duration // handshake duration
}

// connect resolves the target and opens one connection with the given
// scopes, as client "cli"/"cli" like the official CLI.
func (a *app) connect(ctx context.Context, f *clientFlags, scopes []string) (*session, error) {
	return a.connectWithEvents(ctx, f, scopes, nil)
}

// connectWithEvents is connect with an event callback (it runs on the read
// loop and must not block on a call of the same client).
func (a *app) connectWithEvents(ctx context.Context, f *clientFlags, scopes []string, onEvent func(protocol.EventFrame)) (*session, error) {
	t, err := resolveTarget(a.profile, f)
	if err != nil {
		return nil, err
	}
	for _, w := range t.Warnings {
		fmt.Fprintf(a.stderr, "Warning: %s\n", w)
	}
	opt := a.clientOptions(t, f, scopes)
	opt.OnEvent = onEvent
	var kr *deviceauth.Keyring
	if usesDeviceIdentity(t) {
		kr, opt = a.withDeviceIdentity(opt)
	}
	start := time.Now()
	c, err := client.Dial(ctx, opt)
	if err != nil && kr != nil && kr.HandleConnectError(opt.URL, opt.Role, err) {
		fmt.Fprintln(a.stderr, "Warning: the gateway rejected this device's stored token; forgot it and retrying without it")
		c, err = client.Dial(ctx, opt)
	}
	if err != nil {
		return nil, &connectError{target: t, err: err}
	}
	return &session{c: c, target: t, elapsed: time.Since(start)}, nil
}

// usesDeviceIdentity says whether a connect carries the device identity. Like
// the official CLI, it is left out only on loopback with a shared secret (the
// local gateway then keeps a cli/cli client's scopes); everywhere else the
// gateway pairs devices and issues them tokens.
func usesDeviceIdentity(t target) bool {
	return !(isLoopbackURL(t.URL) && (t.Token != "" || t.Password != ""))
}

// secretsService names this profile's entries in the Keychain / Secret
// Service, so that profiles (separate state dirs) get separate identities.
func secretsService(profile string) string {
	profile = strings.TrimSpace(profile)
	if profile == "" {
		profile = "default"
	}
	return "ai.pincer." + profile
}

// secretStores keeps one opened store per state dir and service, so that a
// command reconnecting in a loop (logs --follow) probes the platform once.
var secretStores struct {
	sync.Mutex
	m map[string]secrets.Store
}

func openSecrets(profile string) (secrets.Store, error) {
	paths, err := config.ResolvePaths(profile)
	if err != nil {
		return nil, err
	}
	service := secretsService(profile)
	key := paths.StateDir + "\x00" + service
	secretStores.Lock()
	defer secretStores.Unlock()
	if s := secretStores.m[key]; s != nil {
		return s, nil
	}
	s, err := secrets.Open(paths.StateDir, service)
	if err != nil {
		return nil, err
	}
	if secretStores.m == nil {
		secretStores.m = map[string]secrets.Store{}
	}
	secretStores.m[key] = s
	return s, nil
}

// withDeviceIdentity signs the connect with this install's device key and
// reuses the token the gateway issued it. When the identity cannot be
// loaded the connect goes ahead without it (a gateway with auth "none" or a
// shared secret may still accept it) after a warning.
func (a *app) withDeviceIdentity(opt client.Options) (*deviceauth.Keyring, client.Options) {
	store, err := openSecrets(a.profile)
	var kr *deviceauth.Keyring
	if err == nil {
		kr = deviceauth.New(store)
		kr.OnError = func(err error) { fmt.Fprintf(a.stderr, "Warning: %v\n", err) }
		var signed client.Options
		if signed, err = kr.Attach(opt, false); err == nil {
			return kr, signed
		}
	}
	fmt.Fprintf(a.stderr, "Warning: connecting without a device identity: %v\n", err)
	return nil, opt
}

func (a *app) clientOptions(t target, f *clientFlags, scopes []string) client.Options {
	return client.Options{
		URL:              t.URL,
		Token:            t.Token,
		Password:         t.Password,
		ClientID:         protocol.ClientCLI,
		ClientMode:       protocol.ModeCLI,
		Scopes:           scopes,
		RequestTimeout:   f.timeout,
		ChallengeTimeout: min(f.timeout, client.DefaultChallengeTimeout),
	}
}

// connectError is a failed connect, with what is needed to explain it.
type connectError struct {
	target target
	err    error
}

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// withTimeout bounds a whole command by --timeout.
func withTimeout(ctx context.Context, f *clientFlags) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.timeout)
}

// formatError renders an error for stderr: "Error: <message>" plus the
// detail code and, where it helps, a hint on what to do next.
func formatError(err error) string {
	var b strings.Builder
	var ce *connectError
	var t *target
	if errors.As(err, &ce) {
		t = &ce.target
	}
	var pe *protocol.Error
	var closeErr *client.CloseError
	var ue *client.UpgradeError
	switch {
	case errors.As(err, &pe):
		fmt.Fprintf(&b, "Error: %s", pe.Message)
		if code := pe.DetailCode(); code != "" {
			fmt.Fprintf(&b, " [%s]", code)
		} else if pe.Code != "" {
			fmt.Fprintf(&b, " [%s]", pe.Code)
		}
		b.WriteString("\n")
		switch code := pe.DetailCode(); {
		case code == protocol.DetailAuthTokenMissing || code == protocol.DetailAuthTokenMismatch:
			hint := "pass --token, or set PINCER_GATEWAY_TOKEN"
			if t != nil && t.TokenSource != "" {
				hint = fmt.Sprintf("the token came from %s; pass --token or set PINCER_GATEWAY_TOKEN", t.TokenSource)
			}
			fmt.Fprintf(&b, "Hint: %s (a local gateway stores its generated token in the state directory).\n", hint)
		case strings.HasPrefix(code, "AUTH_PASSWORD_"):
			b.WriteString("Hint: pass --password or set PINCER_GATEWAY_PASSWORD.\n")
		case code == protocol.DetailMissingScope:
			b.WriteString("Hint: this connection was not granted the scope the method needs.\n")
		case code == protocol.DetailPairingRequired || (pe.Code == protocol.CodeNotPaired && detailString(pe, "requestId") != ""):
			b.WriteString(pairingHint(pe))
		case code == protocol.DetailAuthScopeMismatch:
			b.WriteString("Hint: this device's token does not cover the scopes the command needs; approve the scope upgrade on the gateway host (`pincer devices approve`), or pass --token.\n")
		case code == protocol.DetailAuthDeviceTokenMismatch:
			b.WriteString("Hint: the gateway no longer accepts this device's token; run the command again to request pairing anew, or pass --token.\n")
		case code == protocol.DetailDeviceIdentityRequired:
			b.WriteString("Hint: the gateway only accepts paired devices or its shared secret; pass --token (or set PINCER_GATEWAY_TOKEN).\n")
		}
	case errors.As(err, &closeErr):
		fmt.Fprintf(&b, "Error: %s\n", closeErr)
	case errors.As(err, &ue):
		fmt.Fprintf(&b, "Error: %s\n", ue)
	case errors.Is(err, client.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(&b, "Error: timed out waiting for the gateway (%s)\n", errMessage(err))
	case errors.Is(err, syscall.ECONNREFUSED):
		url := ""
		if t != nil {
			url = " at " + t.URL
		}
		fmt.Fprintf(&b, "Error: no gateway is listening%s (connection refused)\n", url)
		b.WriteString("Hint: start one with 'pincer gateway run', or pass --url.\n")
	default:
		fmt.Fprintf(&b, "Error: %s\n", errMessage(err))
	}
	return b.String()
}

// pairingHint tells the user how to approve this device: the gateway holds
// a pending request and the connect will pass once it is approved.
func pairingHint(pe *protocol.Error) string {
	id := detailString(pe, "requestId")
	what := "approval"
	switch r := detailString(pe, "reason"); r {
	case "", "not-paired":
	default:
		what = "approval (" + strings.ReplaceAll(r, "-", " ") + ")"
	}
	if id == "" {
		return fmt.Sprintf("Hint: this device is waiting for %s: run `pincer devices list` on the gateway host and approve its request with `pincer devices approve <requestId>` (or `openclaw devices approve <requestId>`).\n", what)
	}
	return fmt.Sprintf("Hint: this device is waiting for %s: run `pincer devices approve %s` on the gateway host (or `openclaw devices approve %s`), then try again.\n", what, id, id)
}

// detailString reads a string field of an error's details, whichever form
// they arrived in.
func detailString(pe *protocol.Error, key string) string {
	switch d := pe.Details.(type) {
	case map[string]any:
		s, _ := d[key].(string)
		return s
	case json.RawMessage:
		var m map[string]any
		if json.Unmarshal(d, &m) == nil {
			s, _ := m[key].(string)
			return s
		}
	}
	return ""
}

func errMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "client: ")
}

// oneCall is the shape of most client commands: connect with scopes, make
// one call, print the JSON with --json or render it otherwise.
type oneCall struct {
	use, short string
	scopes     []string
	method     string
	params     any
	render     func(s *session, payload json.RawMessage, rtt time.Duration) error
}

func (a *app) oneCallCmd(oc oneCall) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   oc.use,
		Short: oc.short,
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := withTimeout(cmd.Context(), &f)
			defer cancel()
			s, err := a.connect(ctx, &f, oc.scopes)
			if err != nil {
				return err
			}
			defer s.c.Close()
			start := time.Now()
			payload, err := s.c.CallRaw(ctx, oc.method, oc.params, client.CallOptions{})
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(a.stdout, payload)
			}
			return oc.render(s, payload, time.Since(start))
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}
