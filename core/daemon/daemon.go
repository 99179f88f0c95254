// Package daemon wires the gateway process together: config, state store,
// logging, the gateway transport and the domain packages that register
// their methods with it. `pincer gateway run` and tests call Run.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/mcp"
	"github.com/pincerhq/pincer/core/approvals"
	"github.com/pincerhq/pincer/core/auth/pairing"
	"github.com/pincerhq/pincer/core/canvas"
	"github.com/pincerhq/pincer/core/channels"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/config/configrpc"
	"github.com/pincerhq/pincer/core/controlui"
	"github.com/pincerhq/pincer/core/cron"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/httpapi"
	"github.com/pincerhq/pincer/core/httpapi/hooks"
	"github.com/pincerhq/pincer/core/httpapi/openaicompat"
	"github.com/pincerhq/pincer/core/logging"
	"github.com/pincerhq/pincer/core/nodes"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/protocol/schema"
	"github.com/pincerhq/pincer/core/sessions"
	"github.com/pincerhq/pincer/core/store"
	"github.com/pincerhq/pincer/core/system"
)

// Version is the Pincer release; set by the build (-ldflags -X).
var Version = "0.1.0-dev"

// Options override the config file for one run (flags of `pincer gateway run`).
type Options struct {
	Profile  string
	Port     int    // 0: from config/env
	Bind     string // "": from config
	AuthMode string // "": from config
	Token    string // "": config, env, or the generated token
	Password string
	Verbose  bool
	Console  io.Writer        // readable log output; nil: none
	Stdout   io.Writer        // the first-start banner; nil: none
	Ready    func(url string) // called once the listener is up
	// Listener, when set, is used instead of listening on the configured
	// address (tests pass a random loopback port).
	Listener net.Listener
	// ShutdownTimeout bounds the graceful stop (default 10 s).
	ShutdownTimeout time.Duration
	// ChannelKinds adds channel kinds to the built-in ones (tests).
	ChannelKinds []channel.Kind
}

// Run starts the gateway and blocks until ctx is done, then shuts down
// gracefully.
func Run(ctx context.Context, opt Options) error {
	started := time.Now()
	if os.Getenv("GOGC") == "" {
		// Most of the gateway's heap is per-connection state that lives as
		// long as the socket; halving the GC's headroom keeps thousands of
		// idle connections within a small footprint for a few percent of
		// CPU under load. GOGC in the environment still wins.
		debug.SetGCPercent(50)
	}
	paths, err := config.ResolvePaths(opt.Profile)
	if err != nil {
		return err
	}
	cfg, res, err := config.Load(paths)
	if err != nil {
		return err
	}
	cfg.ApplyEnv()
	applyFlags(cfg, opt)

	level := slog.LevelInfo
	if opt.Verbose {
		level = slog.LevelDebug
	} else if l := strings.ToLower(cfg.Logging.Level); l != "" {
		_ = level.UnmarshalText([]byte(l))
	}
	log, logCloser, err := logging.Setup(logging.Options{
		Path: paths.LogPath(), Level: level, MaxFileBytes: cfg.Logging.MaxFileBytes, MaxFiles: cfg.Logging.MaxFiles,
		Console: opt.Console,
	})
	if err != nil {
		return fmt.Errorf("opening the gateway log: %w", err)
	}
	defer logCloser.Close()
	startPprof(log)

	token := cfg.Gateway.Auth.Token
	created := false
	if cfg.Gateway.Auth.Mode == config.AuthModeToken && token == "" {
		token, created, err = config.EnsureToken(paths, cfg)
		if err != nil {
			return fmt.Errorf("preparing the gateway token: %w", err)
		}
		cfg.Gateway.Auth.Token = token
	}
	if cfg.Gateway.Auth.Mode == config.AuthModePassword && cfg.Gateway.Auth.Password == "" {
		return errors.New("gateway auth mode is password, but no password is configured (set gateway.auth.password or PINCER_GATEWAY_PASSWORD)")
	}

	db, err := store.Open(paths.DBPath(), store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()

	ln := opt.Listener
	if ln == nil {
		addr, err := cfg.ListenAddr()
		if err != nil {
			return err
		}
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w (is another gateway running? try --port)", addr, err)
		}
	}
	defer ln.Close()

	validator, err := schema.New()
	if err != nil {
		return fmt.Errorf("loading protocol schema: %w", err)
	}
	var cfgMu sync.RWMutex
	current := func() *config.Config { cfgMu.RLock(); defer cfgMu.RUnlock(); return cfg }
	rl := cfg.Gateway.Auth.RateLimit
	exempt := rl.ExemptLoopback == nil || *rl.ExemptLoopback
	cfgSvc := &configrpc.Service{Paths: paths, Version: Version,
		Current: func() (*config.Config, *config.LoadResult) { cfgMu.RLock(); defer cfgMu.RUnlock(); return cfg, res },
		Apply: func(next *config.Config, nextRes *config.LoadResult) {
			next.ApplyEnv()
			applyFlags(next, opt)
			// The listener and the gateway's auth were set up at start; the
			// running values stay until a restart (config.set reports them).
			next.Gateway.Auth = cfg.Gateway.Auth
			cfgMu.Lock()
			cfg, res = next, nextRes
			cfgMu.Unlock()
			log.Info("config applied", "path", paths.ConfigPath)
		}}
	devices, err := pairing.New(ctx, db, log, func() pairing.Config {
		c := current()
		ns := c.Gateway.NodesSettings()
		return pairing.Config{AutoApproveLocal: ns.AutoApproveLocal, AutoApproveCIDRs: ns.AutoApproveCIDRs,
			GatewayURL: setupCodeURL(c, ln.Addr()), AuthMode: c.Gateway.Auth.Mode}
	})
	if err != nil {
		return err
	}
	srv := gateway.New(gateway.Options{
		Version: Version,
		Devices: devices,
		Auth: gateway.AuthOptions{
			Mode: cfg.Gateway.Auth.Mode, Token: cfg.Gateway.Auth.Token, Password: cfg.Gateway.Auth.Password,
			MaxAttempts: rl.MaxAttempts, Window: time.Duration(rl.WindowMs) * time.Millisecond,
			Lockout: time.Duration(rl.LockoutMs) * time.Millisecond, ExemptLoopback: exempt,
		},
		TrustedProxies: cfg.Gateway.TrustedProxies,
		AllowedOrigins: cfg.Gateway.ControlUI.AllowedOrigins,
		Validator:      validator,
		Logger:         log,
		SessionDefaults: func() *protocol.SessionDefaults {
			c := current()
			return &protocol.SessionDefaults{
				DefaultAgentID: config.MainAgentID, ModelConfigured: c.Agents.Defaults.Model.Primary != "",
				Ownership: "sole", MainKey: "main", MainSessionKey: "agent:main:main", Scope: "per-sender",
			}
		},
		ConfigInfo: func() (string, string, string) { return paths.ConfigPath, paths.StateDir, cfgSvc.AppliedHash() },
	})

	every, _ := time.ParseDuration(cfg.Agents.Defaults.Heartbeat.Every)
	hb, err := cron.NewHeartbeat(db, srv, every, log)
	if err != nil {
		return err
	}
	var chans *channels.Manager
	sys := system.New(system.Deps{
		Server: srv, Config: current, Paths: paths, Store: db, Heartbeat: hb, LogPath: paths.LogPath(),
		Loaded: []string{"system", "config", "cron", "channels", "agent", "devices", "nodes", "sessions", "approvals"},
		ChannelsHealth: func() (map[string]any, []string, map[string]string) {
			if chans == nil {
				return map[string]any{}, []string{}, map[string]string{}
			}
			return chans.Health()
		},
	})
	defer sys.Close()
	sys.Register(srv)
	devices.Attach(srv)
	nodeReg, err := nodes.New(ctx, db, log, func() nodes.Policy {
		ns := current().Gateway.NodesSettings()
		return nodes.Policy{Allow: ns.CommandsAllow, Deny: ns.CommandsDeny, Plugin: canvas.NodeCommands(current())}
	})
	if err != nil {
		return err
	}
	nodeReg.Attach(srv)
	execApprovals := approvals.New(log)
	execApprovals.Attach(srv)
	devices.OnRemove(nodeReg.RemoveNode)
	sess, err := sessions.Open(ctx, db)
	if err != nil {
		return err
	}
	mcpServers := mcp.NewManager(log)
	defer mcpServers.Close()
	go mcpServers.Sync(ctx, cfg.MCP.Servers) // connect in the background; runs re-sync
	openSecrets := secretOpener(paths.StateDir, opt.Profile, log)
	rt := agent.New(agent.Options{Config: current, Sessions: sess, Logger: log, StateDir: paths.StateDir,
		Approvals: execApprovals, Nodes: nodeReg, MCP: mcpServers, Getenv: providerEnv(openSecrets)})
	rt.Recover(ctx)
	rt.Attach(srv)
	hb.SetRunner(rt.Heartbeat)
	hb.Register(srv)
	chans, err = channels.New(ctx, channels.Options{DB: db, Config: current, Sessions: sess, Agents: rt, Gateway: srv,
		Kinds: append(channelKinds(), opt.ChannelKinds...), StateDir: paths.StateDir, Secrets: openSecrets, Log: log})
	if err != nil {
		return err
	}
	chans.Register(srv)
	rt.SetMessenger(chans)
	cfgSvc.Register(srv)
	(&agent.Catalog{Config: current}).Register(srv)
	httpapi.Register(srv, Version)
	openaicompat.Register(srv, openaicompat.Deps{Config: current, Agents: rt, Log: log})
	hooks.Register(srv, hooks.Deps{Config: current, Agents: rt, Heartbeat: hb, Messenger: chans, Log: log})
	canvasHost, err := canvas.New(canvas.Deps{Config: current, StateDir: paths.StateDir, Agents: rt, Nodes: nodeReg, Log: log})
	if err != nil {
		return err
	}
	defer canvasHost.Close()
	canvasHost.Register(srv)
	rt.SetCanvas(canvasHost)
	controlui.Register(srv, controlui.Deps{Config: current, Version: Version, Log: log})

	if _, err := srv.RefreshHealth(ctx, false); err != nil {
		log.Warn("initial health snapshot failed", "err", err)
	}
	hbCtx, hbCancel := context.WithCancel(context.Background())
	defer hbCancel()
	go hb.Run(hbCtx)
	chans.Start()
	defer chans.Stop(10 * time.Second)

	url := "ws://" + ln.Addr().String()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("gateway listening", "url", url, "auth", cfg.Gateway.Auth.Mode, "startupMs", time.Since(started).Milliseconds(),
		"config", paths.ConfigPath, "configExists", res.Exists, "stateDir", paths.StateDir)
	if opt.Stdout != nil {
		printBanner(opt.Stdout, url, paths, cfg, created)
	}
	if opt.Ready != nil {
		opt.Ready(url)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			return err
		}
	}
	timeout := opt.ShutdownTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log.Info("gateway stopping")
	hbCancel()
	if err := srv.Shutdown(sctx, "gateway stopping", 0); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", "err", err)
	}
	// Channels first: their pending answers stay queued for the next start
	// (which tells the sender the run was interrupted); then the runs, so
	// nothing writes to the state database after it closes.
	chans.Stop(timeout / 2)
	rctx, rcancel := context.WithTimeout(context.Background(), timeout/2)
	rt.Shutdown(rctx)
	rcancel()
	return nil
}

func applyFlags(cfg *config.Config, opt Options) {
	if opt.Port != 0 {
		cfg.Gateway.Port = opt.Port
	}
	if opt.Bind != "" {
		cfg.Gateway.Bind = opt.Bind
	}
	if opt.AuthMode != "" {
		cfg.Gateway.Auth.Mode = opt.AuthMode
	}
	if opt.Token != "" {
		cfg.Gateway.Auth.Token = opt.Token
	}
	if opt.Password != "" {
		cfg.Gateway.Auth.Password = opt.Password
	}
}

func printBanner(w io.Writer, url string, paths config.Paths, cfg *config.Config, created bool) {
	fmt.Fprintf(w, "Pincer gateway %s listening on %s\n", Version, url)
	switch cfg.Gateway.Auth.Mode {
	case config.AuthModeToken:
		if created {
			fmt.Fprintf(w, "Generated a gateway token and stored it in %s (mode 0600).\n", paths.TokenPath())
		} else if cfg.Gateway.Auth.Token != "" {
			fmt.Fprintf(w, "Gateway token: from config/env or %s\n", paths.TokenPath())
		}
		fmt.Fprintf(w, "Connect:\n  pincer health\n  openclaw gateway call health --url %s --token \"$(cat %s)\"\n", url, paths.TokenPath())
	case config.AuthModePassword:
		fmt.Fprintf(w, "Auth: password (gateway.auth.password)\n  pincer health --url %s --password …\n", url)
	default:
		fmt.Fprintf(w, "Auth: none — anyone who can reach %s can control this gateway.\n", url)
	}
	if _, err := os.Stat(paths.ConfigPath); err != nil {
		fmt.Fprintf(w, "No config file; using defaults (create %s to change them).\n", paths.ConfigPath)
	}
}
