package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

func (a *app) callCmd() *cobra.Command {
	var f clientFlags
	var params string
	var expectFinal bool
	cmd := &cobra.Command{
		Use:   "call METHOD",
		Short: "Call any gateway method and print its JSON result",
		Long: "Call any gateway method and print its JSON result.\n\n" +
			"The connection asks for the operator scopes the official CLI uses for everything\n" +
			"(admin, read, write, approvals, questions, pairing, talk.secrets), since the method is arbitrary.",
		Example: "  pincer call health\n" +
			"  pincer call logs.tail --params '{\"limit\":20}'\n" +
			"  pincer call agent --params '{\"message\":\"hi\",\"idempotencyKey\":\"k1\"}' --expect-final --timeout 10m",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			method := strings.TrimSpace(args[0])
			if method == "" {
				return usagef("empty method name")
			}
			var p any
			if params != "" {
				raw := json.RawMessage(params)
				if !json.Valid(raw) {
					return usagef("--params is not valid JSON: %s", truncate(params, 80))
				}
				p = raw
			}
			ctx, cancel := withTimeout(cmd.Context(), &f)
			defer cancel()
			s, err := a.connect(ctx, &f, protocol.CLIDefaultScopes)
			if err != nil {
				return err
			}
			defer s.c.Close()
			payload, err := s.c.CallRaw(ctx, method, p, client.CallOptions{ExpectFinal: expectFinal})
			if err != nil {
				var pe *protocol.Error
				if errors.As(err, &pe) && len(payload) > 0 && f.json {
					// agent finals carry a payload with the error; keep it for scripts.
					_ = printJSON(a.stdout, payload)
				}
				return err
			}
			if len(payload) == 0 {
				fmt.Fprintln(a.stdout, "null")
				return nil
			}
			return printJSON(a.stdout, payload)
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().StringVar(&params, "params", "", "request params as `JSON` (default: none)")
	cmd.Flags().BoolVar(&expectFinal, "expect-final", false, "wait for the final result of two-phase methods (agent)")
	return cmd
}
