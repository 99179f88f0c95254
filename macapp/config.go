package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/protocol"
)

func (a *app) configCmd() *cobra.Command {
	return groupCmd("config", "Show, locate and validate the configuration",
		a.configGetCmd(), a.configPathCmd(), a.configValidateCmd())
}

func (a *app) configGetCmd() *cobra.Command {
	return a.oneCallCmd(oneCall{
		use: "get", short: "Show the running gateway's configuration (secrets redacted)", scopes: readScopes,
		method: "config.get",
		render: func(_ *session, payload json.RawMessage, _ time.Duration) error {
			var res protocol.ConfigGetResult
			if err := json.Unmarshal(payload, &res); err != nil {
				return fmt.Errorf("unexpected config.get result: %w", err)
			}
			a.printConfigGet(&res)
			return nil
		},
	})
}

func (a *app) printConfigGet(res *protocol.ConfigGetResult) {
	path := res.Path
	if !res.Exists {
		path += " (no file; defaults in effect)"
	}
	valid := "yes"
	if !res.Valid {
		valid = "no"
	}
	rows := [][2]string{{"Path", path}, {"Valid", valid}}
	if res.Hash != "" {
		rows = append(rows, [2]string{"Hash", res.Hash})
	}
	printRows(a.stdout, rows, "")
	printIssues := func(title string, issues []protocol.ConfigIssue) {
		if len(issues) == 0 {
			return
		}
		fmt.Fprintf(a.stdout, "%s:\n", title)
		for _, i := range issues {
			fmt.Fprintf(a.stdout, "  - %s: %s\n", i.Path, i.Message)
		}
	}
	printIssues("Issues", res.Issues)
	printIssues("Warnings", res.Warnings)
	cfg := res.Config
	if len(cfg) == 0 || string(cfg) == "null" {
		cfg = res.Resolved
	}
	if len(cfg) > 0 && string(cfg) != "null" {
		fmt.Fprintln(a.stdout, "Effective config:")
		_ = printJSON(a.stdout, cfg)
	}
}

func (a *app) configPathCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "path",
		Short: "Print the config file path (no gateway needed)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := config.ResolvePaths(a.profile)
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := json.Marshal(map[string]string{
					"profile": p.Profile, "stateDir": p.StateDir, "configPath": p.ConfigPath, "tokenPath": p.TokenPath(),
				})
				return printJSON(a.stdout, b)
			}
			fmt.Fprintln(a.stdout, p.ConfigPath)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the state directory, config and token paths as JSON")
	return cmd
}

func (a *app) configValidateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config file and report every problem (no gateway needed)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := config.ResolvePaths(a.profile)
			if err != nil {
				return err
			}
			_, res, err := config.Load(p)
			if asJSON {
				out := map[string]any{"path": p.ConfigPath, "valid": err == nil, "exists": res != nil && res.Exists,
					"issues": []config.Issue{}, "warnings": []config.Issue{}}
				if res != nil {
					if res.Issues != nil {
						out["issues"] = res.Issues
					}
					if res.Warnings != nil {
						out["warnings"] = res.Warnings
					}
				}
				if err != nil {
					out["error"] = err.Error()
				}
				b, _ := json.Marshal(out)
				if perr := printJSON(a.stdout, b); perr != nil {
					return perr
				}
				if err != nil {
					return silentError{err}
				}
				return nil
			}
			if res != nil {
				for _, w := range res.Warnings {
					fmt.Fprintf(a.stderr, "Warning: %s\n", w)
				}
			}
			if err != nil {
				return err
			}
			if res != nil && !res.Exists {
				fmt.Fprintf(a.stdout, "No config file at %s; the defaults are valid.\n", p.ConfigPath)
				return nil
			}
			fmt.Fprintf(a.stdout, "Config OK: %s\n", p.ConfigPath)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// silentError fails the command (exit 1) without printing anything more:
// the output already said what is wrong.
type silentError struct{ err error }

func (e silentError) Error() string { return e.err.Error() }
func (e silentError) Unwrap() error { return e.err }

func isSilent(err error) bool {
	var s silentError
	return errors.As(err, &s)
}
