package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/client/deviceauth"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/node/commands"
)

// ApprovalTimeout bounds how long a system.run waits for an operator.
const ApprovalTimeout = 2 * time.Minute

// errNoApprovalRoute: the gateway offers no exec approvals, or this node
// has no operator credential to ask with.
var errNoApprovalRoute = errors.New("no approval route: the gateway offers no exec.approval.request for this node")

// approver asks the gateway's approval clients about a system.run under the
// "ask" policy, through exec.approval.request on an operator connection of
// this device (shared secret, or the operator token a setup code handed
// off). Without such a route the command is denied.
type approver struct {
	h        *Host
	keys     *deviceauth.Keyring
	url      func() string
	nodeID   func() string
	features atomic.Pointer[[]string]
}

func (a *approver) offered() bool {
	m := a.features.Load()
	return m != nil && slices.Contains(*m, "exec.approval.request")
}

func (a *approver) decide(ctx context.Context, req commands.ApprovalRequest) (string, error) {
	if !a.offered() {
		return commands.DecisionDeny, errNoApprovalRoute
	}
	opt := client.Options{URL: a.url(), Token: a.h.opt.Token, Password: a.h.opt.Password, Role: protocol.RoleOperator,
		ClientID: protocol.ClientNodeHost, ClientMode: protocol.ModeBackend, DisplayName: a.h.opt.DisplayName,
		Scopes: []string{protocol.ScopeApprovals}, Logger: a.h.log, TickWatchdog: -1}
	if opt.Token == "" && opt.Password == "" {
		if _, ok := a.keys.Token(opt.URL, protocol.RoleOperator); !ok {
			return commands.DecisionDeny, errNoApprovalRoute
		}
	}
	signed, err := a.keys.Attach(opt, false)
	if err != nil {
		return commands.DecisionDeny, err
	}
	ctx, cancel := context.WithTimeout(ctx, ApprovalTimeout)
	defer cancel()
	c, err := client.Dial(ctx, signed)
	if err != nil {
		return commands.DecisionDeny, fmt.Errorf("approval connection: %w", err)
	}
	defer c.Close()
	params := map[string]any{
		"command": req.CommandText, "commandArgv": req.Command, "host": "node", "nodeId": a.nodeID(),
		"timeoutMs": ApprovalTimeout.Milliseconds(), "twoPhase": true,
	}
	nullable := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	// host=node approvals are bound to the exact plan that will run.
	params["systemRunPlan"] = map[string]any{"argv": req.Command, "cwd": nullable(req.Cwd), "commandText": req.CommandText,
		"agentId": nullable(req.AgentID), "sessionKey": nullable(req.SessionKey)}
	if req.Cwd != "" {
		params["cwd"] = req.Cwd
	}
	var res struct {
		Decision *string `json:"decision"`
	}
	raw, err := c.CallRaw(ctx, "exec.approval.request", params, client.CallOptions{ExpectFinal: true})
	if err != nil {
		return commands.DecisionDeny, fmt.Errorf("exec.approval.request: %w", err)
	}
	if err := jsonUnmarshal(raw, &res); err != nil {
		return commands.DecisionDeny, err
	}
	if res.Decision == nil {
		return commands.DecisionDeny, errors.New("no operator answered the approval request")
	}
	return *res.Decision, nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
