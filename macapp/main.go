// Command pincer is the Pincer gateway, its operator CLI and (later) the
// menu-bar app, in one binary. `pincer gateway run` runs the gateway; the
// other commands are clients of a running gateway over the protocol, except
// the local `config path` and `config validate`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pincerhq/pincer/core/daemon"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app is the state shared by the commands of one invocation.
type app struct {
	profile string
	stdin   io.Reader // nil: os.Stdin
	stdout  io.Writer
	stderr  io.Writer

	// runDaemon is daemon.Run; tests replace it.
	runDaemon func(ctx context.Context, opt daemon.Options) error
}

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// usageArgs makes a positional-argument check report a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, runDaemon: daemon.Run}
	return a.execute(ctx, args)
}

func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") ||
		strings.HasPrefix(err.Error(), "unknown flag") || strings.HasPrefix(err.Error(), "unknown shorthand flag") {
		fmt.Fprintf(a.stderr, "Error: %s\n", err)
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	if !isSilent(err) {
		fmt.Fprint(a.stderr, formatError(err))
	}
	return exitError
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "pincer",
		Short: "Pincer: a personal AI assistant gateway (OpenClaw protocol v4)",
		Long: "Pincer runs a personal-assistant gateway that speaks the OpenClaw Gateway protocol v4,\n" +
			"and talks to it: `pincer gateway run` starts the gateway, the other commands are its CLI.",
		Args:          usageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	if a.stdin != nil {
		root.SetIn(a.stdin)
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&a.profile, "profile", "", "use the state directory of profile `NAME` (~/.pincer-NAME)")
	root.CompletionOptions.HiddenDefaultCmd = true

	root.AddCommand(
		a.gatewayCmd(),
		a.healthCmd(),
		a.statusCmd(),
		a.callCmd(),
		a.logsCmd(),
		a.configCmd(),
		a.devicesCmd(), a.nodesCmd(), a.nodeCmd(),
		a.agentCmd(), a.sessionsCmd(), a.modelsCmd(), a.approvalsCmd(),
		a.channelsCmd(), a.pairingCmd(), a.sendCmd(),
		a.dashboardCmd(),
		a.versionCmd(),
	)
	return root
}

// groupCmd is a command that only holds subcommands.
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(subs...)
	return c
}

// flagChanged reports whether the user set a flag.
func flagChanged(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}
