package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pincerhq/pincer/core/protocol"
)

const defaultInvokeTimeout = 30 * time.Second

// Where `nodes approve` asks for confirmation; tests replace them.
var (
	confirmInput     io.Reader = os.Stdin
	stdinInteractive           = func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }
)

func (a *app) nodesCmd() *cobra.Command {
	c := groupCmd("nodes", "List, approve and invoke nodes (capability hosts)",
		a.nodesListCmd(),
		a.nodesDescribeCmd(),
		a.nodesApproveCmd(),
		a.nodesRejectCmd(),
		a.nodesRenameCmd(),
		a.nodesRemoveCmd(),
		a.nodesInvokeCmd(),
		a.nodesRunCmd(),
	)
	c.Long = "List, approve and invoke nodes: devices connected with role \"node\" that run commands\n" +
		"(system.run, camera.snap, canvas.*, …) for the gateway.\n\n" +
		"A node's declared commands need approval (`pincer nodes approve`) before they can be invoked.\n" +
		"NODE is a node id, any unique prefix of it, or a node's exact display name."
	return c
}

func (a *app) nodesListCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List nodes and pending capability requests",
		Long: "List nodes and pending capability requests.\n\n" +
			"--json prints node.list's result with node.pair.list's \"pending\" and \"paired\" added.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				var nodes protocol.NodeListResult
				rawNodes, err := callInto(ctx, s, "node.list", struct{}{}, &nodes)
				if err != nil {
					return err
				}
				var pairs protocol.NodePairListResult
				rawPairs, err := callInto(ctx, s, "node.pair.list", struct{}{}, &pairs)
				var pe *protocol.Error
				switch {
				case errors.As(err, &pe) && pe.DetailCode() == protocol.DetailMissingScope:
					fmt.Fprintln(a.stderr, "Warning: pending capability requests are not shown: this connection lacks operator.pairing")
					rawPairs = nil
				case err != nil:
					return err
				}
				if f.json {
					merged, err := mergeObjects(rawNodes, rawPairs)
					if err != nil {
						return err
					}
					return printJSON(a.stdout, merged)
				}
				printNodeList(a.stdout, nodes, pairs, rawPairs != nil, time.Now())
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

// mergeObjects joins the top-level keys of JSON objects (later wins).
func mergeObjects(objs ...json.RawMessage) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	for _, o := range objs {
		if len(bytes.TrimSpace(o)) == 0 {
			continue
		}
		var part map[string]json.RawMessage
		if err := json.Unmarshal(o, &part); err != nil {
			return nil, fmt.Errorf("the gateway returned a non-object result: %s", truncate(string(o), 80))
		}
		for k, v := range part {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

func printNodeList(w io.Writer, nodes protocol.NodeListResult, pairs protocol.NodePairListResult, withPending bool, now time.Time) {
	fmt.Fprintf(w, "Nodes (%d)\n", len(nodes.Nodes))
	if len(nodes.Nodes) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		rows := make([][]string, 0, len(nodes.Nodes))
		for _, n := range nodes.Nodes {
			caps := strings.Join(n.Caps, ",")
			cmds := fmt.Sprint(len(n.Commands))
			if len(n.PendingDeclaredCaps) > 0 && caps == "" {
				caps = "(" + strings.Join(n.PendingDeclaredCaps, ",") + ")"
			}
			if len(n.PendingDeclaredCommands) > 0 {
				cmds += fmt.Sprintf(" (+%d pending)", len(n.PendingDeclaredCommands))
			}
			last := ago(n.LastSeenAtMs, now)
			if n.Connected {
				last = "now"
			}
			rows = append(rows, []string{shortID(n.NodeID), orDash(n.DisplayName), orDash(n.Platform), orDash(n.Version),
				yesNo(n.Connected), orDash(n.ApprovalState), orDash(caps), cmds, last})
		}
		printTable(w, "  ", []string{"NODE", "NAME", "PLATFORM", "VERSION", "CONNECTED", "APPROVAL", "CAPS", "COMMANDS", "LAST SEEN"}, rows)
	}
	if !withPending {
		return
	}
	fmt.Fprintf(w, "\nPending capability requests (%d)\n", len(pairs.Pending))
	if len(pairs.Pending) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	rows := make([][]string, 0, len(pairs.Pending))
	for _, p := range pairs.Pending {
		rows = append(rows, []string{p.RequestID, describeDevice(p.NodeID, p.DisplayName), orDash(strings.Join(p.Commands, ",")),
			scopeList(p.RequiredApproveScopes)})
	}
	printTable(w, "  ", []string{"REQUEST", "NODE", "COMMANDS", "REQUIRED SCOPES"}, rows)
	fmt.Fprintln(w, "  Approve with `pincer nodes approve <request or node>`.")
}

func describeNode(n protocol.NodeRow) string { return describeDevice(n.NodeID, n.DisplayName) }

// resolveNode finds NODE in node.list: an exact id, an exact display
// name, then a unique id prefix.
func resolveNode(ctx context.Context, s *session, arg string) (protocol.NodeRow, error) {
	var list protocol.NodeListResult
	if _, err := callInto(ctx, s, "node.list", struct{}{}, &list); err != nil {
		return protocol.NodeRow{}, err
	}
	return resolveNodeIn(list.Nodes, arg)
}

func resolveNodeIn(nodes []protocol.NodeRow, arg string) (protocol.NodeRow, error) {
	return resolveOne("node", arg, nodes, describeNode,
		func(n protocol.NodeRow) bool { return n.NodeID == arg },
		func(n protocol.NodeRow) bool { return n.DisplayName == arg },
		func(n protocol.NodeRow) bool { return strings.HasPrefix(n.NodeID, arg) })
}

// nodeCmd is a command on one node resolved through node.list.
type nodeCmd struct {
	use, short string
	args       int // positional args after NODE
	check      func(args []string) error
	run        func(ctx context.Context, s *session, n protocol.NodeRow, args []string) (json.RawMessage, error)
	done       func(w io.Writer, n protocol.NodeRow, raw json.RawMessage) error
}

func (a *app) nodeCommand(nc nodeCmd) (*cobra.Command, *clientFlags) {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   nc.use,
		Short: nc.short,
		Long:  nc.short + ".\n\nNODE is a node id, any unique prefix of it, or a node's exact display name.",
		Args:  usageArgs(cobra.ExactArgs(1 + nc.args)),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg, err := idArg(args[0], "node")
			if err != nil {
				return err
			}
			if nc.check != nil {
				if err := nc.check(args[1:]); err != nil {
					return err
				}
			}
			return a.withGateway(cmd, f, func(ctx context.Context, s *session) error {
				n, err := resolveNode(ctx, s, arg)
				if err != nil {
					return err
				}
				raw, err := nc.run(ctx, s, n, args[1:])
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				return nc.done(a.stdout, n, raw)
			})
		},
	}
	addClientFlags(cmd, f)
	return cmd, f
}

func (a *app) nodesDescribeCmd() *cobra.Command {
	cmd, _ := a.nodeCommand(nodeCmd{
		use: "describe NODE", short: "Show everything the gateway knows about a node",
		run: func(ctx context.Context, s *session, n protocol.NodeRow, _ []string) (json.RawMessage, error) {
			return callInto(ctx, s, "node.describe", protocol.NodeIDParams{NodeID: n.NodeID}, nil)
		},
		done: func(w io.Writer, _ protocol.NodeRow, raw json.RawMessage) error {
			var n protocol.NodeRow
			if err := json.Unmarshal(raw, &n); err != nil {
				return fmt.Errorf("unexpected node.describe result: %v", err)
			}
			printNode(w, n, time.Now())
			return nil
		},
	})
	return cmd
}

func printNode(w io.Writer, n protocol.NodeRow, now time.Time) {
	var rows [][2]string
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, [2]string{k, v})
		}
	}
	add("Node", n.NodeID)
	add("Name", n.DisplayName)
	add("Platform", strings.TrimSpace(n.Platform+paren(n.DeviceFamily)))
	add("Model", n.ModelIdentifier)
	add("Version", n.Version)
	cl := n.ClientID
	if n.ClientMode != "" {
		cl += " (" + n.ClientMode + ")"
	}
	add("Client", cl)
	add("Remote IP", n.RemoteIP)
	add("Connected", yesNo(n.Connected))
	add("Paired", yesNo(n.Paired))
	add("Approval", n.ApprovalState)
	add("Pending request", n.PendingRequestID)
	add("Caps", strings.Join(n.Caps, ", "))
	add("Commands", strings.Join(n.Commands, ", "))
	add("Pending caps", strings.Join(n.PendingDeclaredCaps, ", "))
	add("Pending commands", strings.Join(n.PendingDeclaredCommands, ", "))
	if n.SessionHost {
		add("Session host", "yes")
	}
	add("Plugin tools", strings.Join(n.NodePluginTools, ", "))
	if len(n.Permissions) > 0 {
		keys := make([]string, 0, len(n.Permissions))
		for k := range n.Permissions {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + yesNo(n.Permissions[k])
		}
		add("Permissions", strings.Join(parts, ", "))
	}
	add("PATH", n.PathEnv)
	if len(n.HostStats) > 0 && string(n.HostStats) != "null" {
		var b bytes.Buffer
		if json.Compact(&b, n.HostStats) == nil {
			add("Host stats", truncate(b.String(), 200))
		}
	}
	if n.ConnectedAtMs > 0 {
		add("Connected at", stamp(n.ConnectedAtMs, now, ""))
	} else if n.LastConnectedAtMs > 0 {
		add("Last connected", stamp(n.LastConnectedAtMs, now, ""))
	}
	if n.LastSeenAtMs > 0 {
		add("Last seen", stamp(n.LastSeenAtMs, now, n.LastSeenReason))
	}
	if n.ApprovedAtMs > 0 {
		add("Approved at", stamp(n.ApprovedAtMs, now, ""))
	}
	printRows(w, rows, "")
}

// stamp is a local time with how long ago it was and an optional note.
func stamp(ms int64, now time.Time, note string) string {
	rel := ago(ms, now)
	if note != "" {
		rel += ", " + note
	}
	return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05") + " (" + rel + ")"
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// shellCommands are the declared commands that give shell-level access
// to the node's host (the ones node.pair.approve needs admin for).
func shellCommands(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		switch {
		case c == "system.run", c == "system.run.prepare", c == "system.which", c == "fs.listDir",
			strings.HasPrefix(c, "browser.proxy"), strings.HasPrefix(c, "system.execApprovals."):
			out = append(out, c)
		}
	}
	return out
}

// resolveNodeRequest finds the pending capability request an argument
// names: its request id, its node's id or display name, or a unique
// prefix of either id.
func resolveNodeRequest(ctx context.Context, s *session, arg string) (protocol.PendingNode, error) {
	var pairs protocol.NodePairListResult
	if _, err := callInto(ctx, s, "node.pair.list", struct{}{}, &pairs); err != nil {
		return protocol.PendingNode{}, err
	}
	var nodes protocol.NodeListResult
	if _, err := callInto(ctx, s, "node.list", struct{}{}, &nodes); err != nil {
		return protocol.PendingNode{}, err
	}
	names := map[string]string{}
	for _, n := range nodes.Nodes {
		names[n.NodeID] = n.DisplayName
	}
	p, err := resolveOne("pending capability request", arg, pairs.Pending,
		func(p protocol.PendingNode) string {
			return p.RequestID + "  node " + describeDevice(p.NodeID, p.DisplayName)
		},
		func(p protocol.PendingNode) bool { return p.RequestID == arg || p.NodeID == arg },
		func(p protocol.PendingNode) bool { return p.DisplayName == arg || names[p.NodeID] == arg },
		func(p protocol.PendingNode) bool {
			return strings.HasPrefix(p.RequestID, arg) || strings.HasPrefix(p.NodeID, arg)
		})
	if err == nil {
		return p, nil
	}
	// A node that is known but has nothing pending deserves a plainer answer.
	if n, nerr := resolveNodeIn(nodes.Nodes, arg); nerr == nil {
		state := n.ApprovalState
		if state == "" {
			state = "unknown"
		}
		return p, fmt.Errorf("node %s has no pending capability request (approval: %s)", nodeLabel(n.NodeID, n.DisplayName), state)
	}
	return p, err
}

func (a *app) nodesApproveCmd() *cobra.Command {
	var f clientFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "approve REQUEST_ID_OR_NODE",
		Short: "Approve a node's declared commands",
		Long: "Approve a node's pending capability request, so that its declared commands can be invoked.\n\n" +
			"The argument is a request id from `pincer nodes list`, or the node (id, unique prefix or\n" +
			"exact display name) whose request to approve. A node that asks for shell access\n" +
			"(system.run, system.which, browser.proxy, fs.listDir, …) is only approved after a\n" +
			"confirmation, or with --yes.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg, err := idArg(args[0], "request id or node")
			if err != nil {
				return err
			}
			var req protocol.PendingNode
			confirm := false
			err = a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				if req, err = resolveNodeRequest(ctx, s, arg); err != nil {
					return err
				}
				if shell := shellCommands(req.Commands); len(shell) > 0 && !yes {
					confirm = true // ask with the connection closed: a person may take longer than --timeout
					return nil
				}
				return a.approveNode(ctx, s, &f, req)
			})
			if err != nil || !confirm {
				return err
			}
			if err := a.confirmShellAccess(req); err != nil {
				return err
			}
			return a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				return a.approveNode(ctx, s, &f, req)
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "approve shell access without asking")
	return cmd
}

func nodeLabel(id, name string) string {
	if name != "" {
		return name + " (" + shortID(id) + ")"
	}
	return shortID(id)
}

func (a *app) confirmShellAccess(req protocol.PendingNode) error {
	shell := strings.Join(shellCommands(req.Commands), ", ")
	label := nodeLabel(req.NodeID, req.DisplayName)
	if !stdinInteractive() {
		return fmt.Errorf("node %s asks for shell access (%s); not approving it without confirmation: run this in a terminal, or pass --yes", label, shell)
	}
	if a.askYesNo(fmt.Sprintf("Approve node %s with shell access (%s)? [y/N] ", label, shell)) {
		return nil
	}
	return fmt.Errorf("node %s was not approved", label)
}

// askYesNo asks a question on stderr and reads a y/yes answer from the
// terminal (anything else, or no answer, is no).
func (a *app) askYesNo(question string) bool {
	fmt.Fprint(a.stderr, question)
	line, err := bufio.NewReader(confirmInput).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(a.stderr)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

func (a *app) approveNode(ctx context.Context, s *session, f *clientFlags, req protocol.PendingNode) error {
	raw, err := callInto(ctx, s, "node.pair.approve", protocol.DevicePairRequestParams{RequestID: req.RequestID}, nil)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(a.stdout, raw)
	}
	var res struct {
		Node protocol.PairedNode `json:"node"`
	}
	_ = json.Unmarshal(raw, &res)
	cmds := res.Node.Commands
	if res.Node.NodeID == "" {
		cmds = req.Commands
	}
	name := res.Node.DisplayName
	if name == "" {
		name = req.DisplayName
	}
	fmt.Fprintf(a.stdout, "Approved node %s", nodeLabel(req.NodeID, name))
	if len(cmds) > 0 {
		fmt.Fprintf(a.stdout, ": %s", strings.Join(cmds, ", "))
	} else {
		fmt.Fprint(a.stdout, " (no commands)")
	}
	fmt.Fprintln(a.stdout, ".")
	return nil
}

func (a *app) nodesRejectCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "reject REQUEST_ID_OR_NODE",
		Short: "Reject a node's pending capability request",
		Long: "Reject a node's pending capability request.\n\n" +
			"The argument is a request id from `pincer nodes list`, or the node (id, unique prefix or\n" +
			"exact display name) whose request to reject.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg, err := idArg(args[0], "request id or node")
			if err != nil {
				return err
			}
			return a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				req, err := resolveNodeRequest(ctx, s, arg)
				if err != nil {
					return err
				}
				raw, err := callInto(ctx, s, "node.pair.reject", protocol.DevicePairRequestParams{RequestID: req.RequestID}, nil)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				fmt.Fprintf(a.stdout, "Rejected the capability request %s of node %s.\n", req.RequestID, nodeLabel(req.NodeID, req.DisplayName))
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

func (a *app) nodesRenameCmd() *cobra.Command {
	cmd, _ := a.nodeCommand(nodeCmd{
		use: "rename NODE NAME", short: "Change a node's display name", args: 1,
		check: func(args []string) error {
			if strings.TrimSpace(args[0]) == "" {
				return usagef("empty name")
			}
			return nil
		},
		run: func(ctx context.Context, s *session, n protocol.NodeRow, args []string) (json.RawMessage, error) {
			return callInto(ctx, s, "node.rename", protocol.NodeRenameParams{NodeID: n.NodeID, DisplayName: strings.TrimSpace(args[0])}, nil)
		},
		done: func(w io.Writer, n protocol.NodeRow, raw json.RawMessage) error {
			var res struct{ DisplayName string }
			_ = json.Unmarshal(raw, &res)
			fmt.Fprintf(w, "Renamed node %s to %q.\n", shortID(n.NodeID), res.DisplayName)
			return nil
		},
	})
	return cmd
}

func (a *app) nodesRemoveCmd() *cobra.Command {
	cmd, _ := a.nodeCommand(nodeCmd{
		use: "remove NODE", short: "Forget a node's approval and disconnect it",
		run: func(ctx context.Context, s *session, n protocol.NodeRow, _ []string) (json.RawMessage, error) {
			return callInto(ctx, s, "node.pair.remove", protocol.NodeIDParams{NodeID: n.NodeID}, nil)
		},
		done: func(w io.Writer, n protocol.NodeRow, _ json.RawMessage) error {
			fmt.Fprintf(w, "Removed node %s.\n", nodeLabel(n.NodeID, n.DisplayName))
			return nil
		},
	})
	return cmd
}

func (a *app) nodesInvokeCmd() *cobra.Command {
	invokeTimeout := defaultInvokeTimeout
	var params json.RawMessage
	cmd, f := a.nodeCommand(nodeCmd{
		use: "invoke NODE COMMAND [PARAMS_JSON]", short: "Run a command on a node and print its result",
		run: func(ctx context.Context, s *session, n protocol.NodeRow, args []string) (json.RawMessage, error) {
			ms := invokeTimeout.Milliseconds()
			return callInto(ctx, s, "node.invoke", protocol.NodeInvokeParams{
				NodeID: n.NodeID, Command: strings.TrimSpace(args[0]), Params: params,
				TimeoutMs: &ms, IdempotencyKey: uuid.NewString(),
			}, nil)
		},
		done: func(w io.Writer, _ protocol.NodeRow, raw json.RawMessage) error {
			var res protocol.NodeInvokeResult
			if err := json.Unmarshal(raw, &res); err != nil {
				return fmt.Errorf("unexpected node.invoke result: %v", err)
			}
			if (len(res.Payload) == 0 || string(res.Payload) == "null") && res.PayloadJSON != nil && !json.Valid([]byte(*res.PayloadJSON)) {
				_, err := fmt.Fprintln(w, *res.PayloadJSON) // a node's non-JSON answer, as sent
				return err
			}
			return printJSON(w, res.Payload)
		},
	})
	cmd.Args = usageArgs(cobra.RangeArgs(2, 3))
	cmd.Long = "Run a command on a node and print its result (the payload, as indented JSON).\n\n" +
		"NODE is a node id, any unique prefix of it, or a node's exact display name. PARAMS_JSON\n" +
		"is the command's params object. The node gets --invoke-timeout to answer; unless --timeout\n" +
		"is given, the whole command waits that long plus 10s."
	cmd.Example = "  pincer nodes invoke build-box system.which '{\"bins\":[\"git\"]}'\n" +
		"  pincer nodes invoke 9008ab system.run '{\"command\":[\"uname\",\"-a\"]}' --invoke-timeout 2m"
	cmd.Flags().Var((*durationValue)(&invokeTimeout), "invoke-timeout", "how long the node may take, as a `DURATION` (e.g. 30s)")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(args[1]) == "" {
			return usagef("empty command")
		}
		params = nil
		if len(args) == 3 {
			if !json.Valid([]byte(args[2])) {
				return usagef("PARAMS_JSON is not valid JSON: %s", truncate(args[2], 80))
			}
			params = json.RawMessage(args[2])
		}
		// The whole command must outlast the node's own deadline.
		if !flagChanged(cmd.Flags(), "timeout") {
			f.timeout = max(f.timeout, invokeTimeout+10*time.Second)
		}
		return run(cmd, args[:2])
	}
	return cmd
}
