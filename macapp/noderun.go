package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/node/commands"
	"github.com/pincerhq/pincer/node/host"
)

func (a *app) nodeCmd() *cobra.Command {
	return groupCmd("node", "Run this machine as a node host", a.nodeRunCmd())
}

func (a *app) nodeRunCmd() *cobra.Command {
	var (
		url, token, password, pair, name, policy, location string
		allow                                              []string
		verbose                                            bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Connect to a gateway as a node and answer its commands",
		Long: "Connect to a gateway (Pincer or OpenClaw) with role node, pair with this machine's device\n" +
			"identity (or a setup code), declare what this machine can do, and answer node.invoke\n" +
			"requests until interrupted. It reconnects with backoff when the gateway goes away.",
		Example: "  pincer node run --url ws://192.168.1.10:18789 --token T\n" +
			"  pincer node run --pair <setup code from `pincer devices setup-code`>\n" +
			"  pincer node run --exec-policy allowlist --exec-allow ls --exec-allow git",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" && pair == "" {
				url = config.GatewayURLFromEnv()
			}
			if token == "" && password == "" {
				token, password = config.GatewayTokenFromEnv(), config.GatewayPasswordFromEnv()
			}
			if url == "" && pair == "" {
				return usagef("no gateway: pass --url ws://HOST:PORT (or --pair SETUPCODE)")
			}
			if url != "" {
				u, err := normalizeURL(url)
				if err != nil {
					return usagef("invalid --url %q: %v", url, err)
				}
				url = u
			}
			switch policy {
			case commands.ExecPolicyDeny, commands.ExecPolicyAllowlist, commands.ExecPolicyAsk:
			default:
				return usagef("--exec-policy must be deny, allowlist or ask")
			}
			ccfg := commands.Config{ExecPolicy: policy, ExecAllowlist: allow, DisplayName: name}
			if location != "" {
				loc, err := parseLocation(location)
				if err != nil {
					return usagef("--location: %v", err)
				}
				ccfg.Location = loc
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			store, err := openSecrets(a.profile)
			if err != nil {
				return fmt.Errorf("cannot open the secret store for the device identity: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			h, err := host.New(ctx, host.Options{URL: url, Token: token, Password: password, SetupCode: pair,
				DisplayName: name, Secrets: store, Commands: ccfg, Logger: log})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "node host: %d commands (%s)\n", len(h.Commands()), strings.Join(h.Commands(), ", "))
			fmt.Fprintf(a.stderr, "node host: waiting for approval is normal on first connect: approve with `pincer nodes approve` on the gateway host\n")
			if err := h.Run(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&url, "url", "", "gateway `URL` (default: $PINCER_GATEWAY_URL, or the setup code's)")
	fs.StringVar(&token, "token", "", "gateway `TOKEN` (default: $PINCER_GATEWAY_TOKEN)")
	fs.StringVar(&password, "password", "", "gateway `PASSWORD` (default: $PINCER_GATEWAY_PASSWORD)")
	fs.StringVar(&pair, "pair", "", "pair with a setup `CODE` from `pincer devices setup-code`")
	hostname, _ := os.Hostname()
	fs.StringVar(&name, "display-name", hostname, "the node's `NAME` in node lists")
	fs.StringVar(&policy, "exec-policy", commands.ExecPolicyAsk, "system.run policy: deny, allowlist or ask (ask is denied without an approval route)")
	fs.StringArrayVar(&allow, "exec-allow", nil, "allow `BIN` under allowlist/ask (repeatable)")
	fs.StringVar(&location, "location", "", "answer location.get with a static `LAT,LON[,ACCURACY_M]`")
	fs.BoolVar(&verbose, "verbose", false, "debug logging")
	return cmd
}

func parseLocation(s string) (*commands.StaticLocation, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("want LAT,LON[,ACCURACY_M], got %q", s)
	}
	var v [3]float64
	v[2] = 100
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		v[i] = f
	}
	if v[0] < -90 || v[0] > 90 || v[1] < -180 || v[1] > 180 {
		return nil, fmt.Errorf("latitude/longitude out of range in %q", s)
	}
	return &commands.StaticLocation{Lat: v[0], Lon: v[1], AccuracyMeters: v[2]}, nil
}
