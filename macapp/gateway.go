package main

import (
	"slices"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/daemon"
)

var (
	bindModes = []string{"loopback", "lan", "auto", "custom"}
	authModes = []string{"token", "password", "none"}
)

func (a *app) gatewayCmd() *cobra.Command {
	return groupCmd("gateway", "Run the gateway", a.gatewayRunCmd())
}

func (a *app) gatewayRunCmd() *cobra.Command {
	var opt daemon.Options
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the gateway in the foreground (Ctrl-C stops it)",
		Long: "Run the gateway in the foreground until interrupted.\n\n" +
			"Flags override the config file for this run. Without a configured token the gateway\n" +
			"generates one on first start and stores it in the state directory, where the CLI finds it.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if opt.Port < 0 || opt.Port > 65535 {
				return usagef("invalid --port %d: must be 1-65535", opt.Port)
			}
			if flagChanged(fs, "bind") && !slices.Contains(bindModes, opt.Bind) {
				return usagef("invalid --bind %q: must be one of loopback, lan, auto, custom", opt.Bind)
			}
			if flagChanged(fs, "auth") && !slices.Contains(authModes, opt.AuthMode) {
				return usagef("invalid --auth %q: must be one of token, password, none", opt.AuthMode)
			}
			opt.Profile = a.profile
			opt.Console = a.stderr // os.Stderr outside tests
			opt.Stdout = a.stdout  // os.Stdout outside tests
			return a.runDaemon(cmd.Context(), opt)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opt.Port, "port", 0, "listen on `PORT` (default: config gateway.port, then 18789)")
	f.StringVar(&opt.Bind, "bind", "", "bind mode: loopback, lan, auto or custom (default: config gateway.bind)")
	f.StringVar(&opt.AuthMode, "auth", "", "auth mode: token, password or none (default: config gateway.auth.mode)")
	f.StringVar(&opt.Token, "token", "", "shared gateway `TOKEN` (default: config, env, or the generated token)")
	f.StringVar(&opt.Password, "password", "", "shared gateway `PASSWORD` (with --auth password)")
	f.BoolVar(&opt.Verbose, "verbose", false, "log debug details to the console")
	return cmd
}
