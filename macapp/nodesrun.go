package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/protocol"
)

// exitCodeError ends the command with a specific exit code after its output
// said what happened (the remote command's own status).
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// nodesRunCmd runs a shell command on a node through system.run and mirrors
// its output and exit status.
func (a *app) nodesRunCmd() *cobra.Command {
	invokeTimeout := defaultInvokeTimeout
	var cwd string
	var argv []string
	cmd, f := a.nodeCommand(nodeCmd{
		use: "run NODE -- COMMAND [ARG...]", short: "Run a program on a node (system.run) and print its output",
		run: func(ctx context.Context, s *session, n protocol.NodeRow, _ []string) (json.RawMessage, error) {
			ms := invokeTimeout.Milliseconds()
			p := map[string]any{"command": argv, "timeoutMs": ms}
			if cwd != "" {
				p["cwd"] = cwd
			}
			raw, _ := json.Marshal(p)
			return callInto(ctx, s, "node.invoke", protocol.NodeInvokeParams{
				NodeID: n.NodeID, Command: "system.run", Params: raw, TimeoutMs: &ms, IdempotencyKey: uuid.NewString(),
			}, nil)
		},
		done: func(w io.Writer, _ protocol.NodeRow, raw json.RawMessage) error {
			var res struct {
				Payload struct {
					ExitCode *int    `json:"exitCode"`
					TimedOut bool    `json:"timedOut"`
					Stdout   string  `json:"stdout"`
					Stderr   string  `json:"stderr"`
					Error    *string `json:"error"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return fmt.Errorf("unexpected system.run result: %v", err)
			}
			r := res.Payload
			fmt.Fprint(w, r.Stdout)
			fmt.Fprint(a.stderr, r.Stderr)
			switch {
			case r.TimedOut:
				fmt.Fprintf(a.stderr, "pincer: the command timed out on the node after %s\n", invokeTimeout)
				return exitCodeError{124}
			case r.Error != nil && *r.Error != "":
				fmt.Fprintf(a.stderr, "pincer: %s\n", *r.Error)
				return exitCodeError{exitError}
			case r.ExitCode != nil && *r.ExitCode != 0:
				return exitCodeError{min(max(*r.ExitCode, 1), 255)}
			}
			return nil
		},
	})
	cmd.Args = usageArgs(cobra.MinimumNArgs(2))
	cmd.Long = "Run a program on a node (system.run) and print its stdout and stderr; the exit status is\n" +
		"the program's. The node's exec policy decides whether it may run (allowlist, or an\n" +
		"operator's approval under \"ask\").\n\nNODE is a node id, any unique prefix of it, or a node's exact display name."
	cmd.Example = "  pincer nodes run build-box -- uname -a\n  pincer nodes run 9008ab --cwd /tmp -- ls -la"
	cmd.Flags().StringVar(&cwd, "cwd", "", "working `DIR` on the node")
	cmd.Flags().Var((*durationValue)(&invokeTimeout), "invoke-timeout", "how long the program may run, as a `DURATION`")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		argv = args[1:]
		if strings.TrimSpace(argv[0]) == "" {
			return usagef("empty command")
		}
		if !flagChanged(cmd.Flags(), "timeout") {
			f.timeout = max(f.timeout, invokeTimeout+10*time.Second)
		}
		return run(cmd, args[:1])
	}
	return cmd
}
