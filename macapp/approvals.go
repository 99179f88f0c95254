package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/protocol"
)

// Exec approval decisions (exec.approval.resolve).
const (
	decisionAllowOnce   = "allow-once"
	decisionAllowAlways = "allow-always"
	decisionDeny        = "deny"
)

var approvalScopes = []string{protocol.ScopeApprovals}

func (a *app) approvalsCmd() *cobra.Command {
	c := groupCmd("approvals", "List and answer pending exec approval requests",
		a.approvalsListCmd(),
		a.approvalsResolveCmd("approve", "Allow a pending command to run"),
		a.approvalsResolveCmd("deny", "Refuse a pending command"),
	)
	c.Long = "List and answer the exec approval requests waiting for an operator: commands an agent\n" +
		"wants to run that its exec policy does not allow by itself.\n\n" +
		"ID is a request id from `pincer approvals list`, or any unique prefix of it."
	return c
}

// approvalRecord is one pending exec approval, read leniently from
// exec.approval.list: fields may sit in the entry or in its request.
type approvalRecord struct {
	ID, Command, Host, Cwd, NodeID, AgentID string
	CreatedAtMs, ExpiresAtMs                int64
	AllowedDecisions                        []string
}

// parseApprovals reads exec.approval.list's result: a bare array of entries
// (or an object holding one under approvals, pending, items or requests).
func parseApprovals(raw json.RawMessage) ([]approvalRecord, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("unexpected exec.approval.list result: %v", err)
	}
	list, ok := v.([]any)
	if m, isObj := v.(map[string]any); isObj {
		for _, k := range []string{"approvals", "pending", "items", "requests"} {
			if l, isList := m[k].([]any); isList {
				list, ok = l, true
				break
			}
		}
	}
	if !ok && v != nil {
		return nil, fmt.Errorf("unexpected exec.approval.list result: %s", truncate(string(raw), 80))
	}
	out := make([]approvalRecord, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m == nil || fieldStr(m, "id") == "" {
			continue
		}
		req, _ := m["request"].(map[string]any)
		if req == nil {
			req = m
		}
		str := func(k string) string {
			if s := fieldStr(req, k); s != "" {
				return s
			}
			return fieldStr(m, k)
		}
		r := approvalRecord{ID: fieldStr(m, "id"), Command: str("command"), Host: str("host"), Cwd: str("cwd"),
			NodeID: str("nodeId"), AgentID: str("agentId"), CreatedAtMs: fieldInt(m, "createdAtMs"), ExpiresAtMs: fieldInt(m, "expiresAtMs")}
		if r.Command == "" {
			r.Command = str("commandText")
		}
		if r.Command == "" {
			if argv := asSlice(req["commandArgv"]); len(argv) > 0 {
				r.Command = joinArgv(argv)
			}
		}
		allowed := asSlice(req["allowedDecisions"])
		if allowed == nil {
			allowed = asSlice(m["allowedDecisions"])
		}
		for _, d := range allowed {
			if s, ok := d.(string); ok {
				r.AllowedDecisions = append(r.AllowedDecisions, s)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func joinArgv(argv []any) string {
	parts := make([]string, 0, len(argv))
	for _, a := range argv {
		s := fmt.Sprint(a)
		if s == "" || strings.ContainsAny(s, " \t\"'") {
			s = fmt.Sprintf("%q", s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func (r approvalRecord) where() string {
	host := r.Host
	if r.NodeID != "" {
		if host == "" || host == "node" {
			host = "node " + shortID(r.NodeID)
		} else {
			host += " (" + shortID(r.NodeID) + ")"
		}
	}
	return host
}

// listApprovals checks that the gateway has exec approvals, then lists the
// pending ones.
func listApprovals(ctx context.Context, s *session) ([]approvalRecord, json.RawMessage, error) {
	if h := s.c.Hello(); h != nil && len(h.Features.Methods) > 0 && !slices.Contains(h.Features.Methods, "exec.approval.list") {
		return nil, nil, fmt.Errorf("the gateway at %s does not implement exec approvals (no exec.approval.list)", s.target.URL)
	}
	raw, err := callInto(ctx, s, "exec.approval.list", struct{}{}, nil)
	if err != nil {
		return nil, nil, err
	}
	list, err := parseApprovals(raw)
	return list, raw, err
}

func (a *app) approvalsListCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pending exec approval requests",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withScopedGateway(cmd, &f, approvalScopes, func(ctx context.Context, s *session) error {
				list, raw, err := listApprovals(ctx, s)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				printApprovals(a.stdout, list, time.Now())
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

func printApprovals(w io.Writer, list []approvalRecord, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No pending exec approvals.")
		return
	}
	rows := make([][]string, 0, len(list))
	for _, r := range list {
		expires := "-"
		if r.ExpiresAtMs > 0 {
			if d := time.UnixMilli(r.ExpiresAtMs).Sub(now); d > 0 {
				expires = "in " + formatDuration(d.Round(time.Second))
			} else {
				expires = "expired"
			}
		}
		rows = append(rows, []string{r.ID, truncate(strings.ReplaceAll(r.Command, "\n", " "), 60), orDash(r.where()),
			orDash(r.Cwd), orDash(r.AgentID), ago(r.CreatedAtMs, now), expires})
	}
	printTable(w, "", []string{"ID", "COMMAND", "HOST", "CWD", "AGENT", "REQUESTED", "EXPIRES"}, rows)
	fmt.Fprintln(w, "Answer with `pincer approvals approve <id>` (--always to allow the command from now on) or `pincer approvals deny <id>`.")
}

func (a *app) approvalsResolveCmd(use, short string) *cobra.Command {
	var f clientFlags
	var always bool
	cmd := &cobra.Command{
		Use:   use + " ID",
		Short: short,
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg, err := idArg(args[0], "approval id")
			if err != nil {
				return err
			}
			decision := decisionDeny
			if use == "approve" {
				decision = decisionAllowOnce
				if always {
					decision = decisionAllowAlways
				}
			}
			return a.withScopedGateway(cmd, &f, approvalScopes, func(ctx context.Context, s *session) error {
				list, _, err := listApprovals(ctx, s)
				if err != nil {
					return err
				}
				r, err := resolveOne("pending approval", arg, list,
					func(r approvalRecord) string { return r.ID + "  " + truncate(r.Command, 60) },
					func(r approvalRecord) bool { return r.ID == arg },
					func(r approvalRecord) bool { return strings.HasPrefix(r.ID, arg) })
				if err != nil {
					return err
				}
				if len(r.AllowedDecisions) > 0 && !slices.Contains(r.AllowedDecisions, decision) {
					return fmt.Errorf("request %s does not allow %s (allowed: %s)", r.ID, decision, strings.Join(r.AllowedDecisions, ", "))
				}
				raw, err := callInto(ctx, s, "exec.approval.resolve", map[string]string{"id": r.ID, "decision": decision}, nil)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				verb := map[string]string{decisionAllowOnce: "Approved (once)", decisionAllowAlways: "Approved (always)",
					decisionDeny: "Denied"}[decision]
				fmt.Fprintf(a.stdout, "%s %s: %s\n", verb, r.ID, orDash(r.Command))
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	if use == "approve" {
		cmd.Flags().BoolVar(&always, "always", false, "allow this command from now on (allow-always), not just once")
	}
	return cmd
}
