package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/protocol"
)

var pairingScopes = []string{protocol.ScopePairing}

func (a *app) pairingCmd() *cobra.Command {
	c := groupCmd("pairing", "List, approve and dismiss chat pairing requests",
		a.pairingListCmd(),
		a.pairingResolveCmd("approve", "Let a sender talk to the assistant", "channels.pairing.approve"),
		a.pairingResolveCmd("dismiss", "Dismiss a pairing request", "channels.pairing.dismiss"),
	)
	c.Long = "List, approve and dismiss the pairing requests of people who messaged a channel whose DM\n" +
		"policy is \"pairing\": the bot answered them with a code, and they can talk to the assistant\n" +
		"once the code is approved here.\n\n" +
		"CODE is the code the sender was given (any case), or a request id from `pincer pairing list`."
	return c
}

// pairingList is channels.pairing.list's result.
type pairingList struct {
	Accounts []struct {
		Channel         string `json:"channel"`
		ChannelLabel    string `json:"channelLabel"`
		AccountID       string `json:"accountId"`
		NotifySupported bool   `json:"notifySupported"`
	} `json:"accounts"`
	Requests               []pairingRequest `json:"requests"`
	CommandOwnerConfigured bool             `json:"commandOwnerConfigured"`
}

// pairingRequest is one pending request.
type pairingRequest struct {
	RequestID    string     `json:"requestId"`
	Channel      string     `json:"channel"`
	ChannelLabel string     `json:"channelLabel"`
	AccountID    string     `json:"accountId"`
	SenderID     flexString `json:"senderId"`
	Metadata     struct {
		Code     string `json:"code"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"metadata"`
	CreatedAt       flexTime `json:"createdAt"`
	LastSeenAt      flexTime `json:"lastSeenAt"`
	ExpiresAt       flexTime `json:"expiresAt"`
	NotifySupported bool     `json:"notifySupported"`
}

// sender is "Alice @alice (12345)", or the id alone. (senderLabel names
// the kind of id, e.g. "userId", not the sender.)
func (r pairingRequest) sender() string {
	var parts []string
	if r.Metadata.Name != "" {
		parts = append(parts, r.Metadata.Name)
	}
	if r.Metadata.Username != "" {
		parts = append(parts, "@"+strings.TrimPrefix(r.Metadata.Username, "@"))
	}
	if len(parts) == 0 {
		return orDash(string(r.SenderID))
	}
	if r.SenderID != "" {
		parts = append(parts, "("+string(r.SenderID)+")")
	}
	return strings.Join(parts, " ")
}

// flexTime reads an ISO 8601 time or Unix milliseconds.
type flexTime struct{ time.Time }

func (t *flexTime) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			t.Time = time.Time{}
			return nil
		}
		p, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return err
		}
		t.Time = p
	case float64:
		t.Time = time.UnixMilli(int64(x))
	default:
		t.Time = time.Time{}
	}
	return nil
}

// since is "12s ago" ("-" when unset).
func (t flexTime) since(now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return ago(t.UnixMilli(), now)
}

// until is "in 59m 48s" or "expired" ("-" when unset).
func (t flexTime) until(now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if d := t.Sub(now); d > 0 {
		return "in " + formatDuration(d.Round(time.Second))
	}
	return "expired"
}

// pairingChannelParams are the params of channels.pairing.list.
type pairingChannelParams struct {
	Channel string `json:"channel,omitempty"`
}

// pairingRequestParams are the params of channels.pairing.approve/dismiss.
type pairingRequestParams struct {
	Channel   string `json:"channel"`
	AccountID string `json:"accountId"`
	RequestID string `json:"requestId"`
	Notify    bool   `json:"notify,omitempty"`
}

func (a *app) pairingListCmd() *cobra.Command {
	var f clientFlags
	var ch string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pending pairing requests",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p pairingChannelParams
			if flagChanged(cmd.Flags(), "channel") {
				c, err := channelArg(ch)
				if err != nil {
					return err
				}
				p.Channel = c
			}
			return a.withScopedGateway(cmd, &f, pairingScopes, func(ctx context.Context, s *session) error {
				return callShow(ctx, s, f.json, a.stdout, "channels.pairing.list", p, func(res pairingList) {
					printPairingList(a.stdout, res, time.Now())
				})
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().StringVar(&ch, "channel", "", "only channel `CHANNEL` (e.g. telegram)")
	return cmd
}

func printPairingList(w io.Writer, res pairingList, now time.Time) {
	if len(res.Requests) == 0 {
		fmt.Fprintln(w, "No pending pairing requests.")
		return
	}
	rows := make([][]string, 0, len(res.Requests))
	for _, r := range res.Requests {
		rows = append(rows, []string{r.Channel, orDash(r.AccountID), orDash(r.Metadata.Code), r.sender(),
			r.CreatedAt.since(now), r.ExpiresAt.until(now)})
	}
	printTable(w, "", []string{"CHANNEL", "ACCOUNT", "CODE", "SENDER", "REQUESTED", "EXPIRES"}, rows)
	fmt.Fprintln(w, "Approve with `pincer pairing approve <channel> <code>` (--notify to tell the sender), or `pincer pairing dismiss <channel> <code>`.")
}

// findPairingRequest picks the pending request CODE names on a channel:
// its code (any case) or its request id, on --account when given.
func findPairingRequest(list pairingList, ch, account, code string) (pairingRequest, error) {
	var hits []pairingRequest
	for _, r := range list.Requests {
		if r.Channel != "" && r.Channel != ch {
			continue
		}
		if account != "" && r.AccountID != account {
			continue
		}
		if strings.EqualFold(r.Metadata.Code, code) || r.RequestID == code {
			hits = append(hits, r)
		}
	}
	switch len(hits) {
	case 0:
		where := ch
		if account != "" {
			where += " account " + account
		}
		return pairingRequest{}, fmt.Errorf("no pending pairing request with code %s on %s; run pincer pairing list", code, where)
	case 1:
		return hits[0], nil
	}
	accounts := make([]string, len(hits))
	for i, r := range hits {
		accounts[i] = r.AccountID
	}
	return pairingRequest{}, fmt.Errorf("code %s is pending on %d %s accounts (%s); pick one with --account",
		code, len(hits), ch, strings.Join(accounts, ", "))
}

func (a *app) pairingResolveCmd(use, short, method string) *cobra.Command {
	var f clientFlags
	var account string
	var notify bool
	cmd := &cobra.Command{
		Use:   use + " CHANNEL CODE",
		Short: short,
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch, err := channelArg(args[0])
			if err != nil {
				return err
			}
			code, err := idArg(args[1], "code")
			if err != nil {
				return err
			}
			acct, err := accountFlag(cmd.Flags(), account)
			if err != nil {
				return err
			}
			return a.withScopedGateway(cmd, &f, pairingScopes, func(ctx context.Context, s *session) error {
				var list pairingList
				if _, err := callInto(ctx, s, "channels.pairing.list", pairingChannelParams{Channel: ch}, &list); err != nil {
					return err
				}
				req, err := findPairingRequest(list, ch, acct, code)
				if err != nil {
					return err
				}
				p := pairingRequestParams{Channel: ch, AccountID: req.AccountID, RequestID: req.RequestID, Notify: notify}
				var res struct {
					RequestID    string     `json:"requestId"`
					SenderID     flexString `json:"senderId"`
					Notification string     `json:"notification"`
				}
				raw, err := callInto(ctx, s, method, p, &res)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				sender := string(res.SenderID)
				if sender == "" {
					sender = string(req.SenderID)
				}
				if use == "approve" {
					fmt.Fprintf(a.stdout, "approved %s on %s; notification: %s\n", sender, ch, orDash(res.Notification))
				} else {
					fmt.Fprintf(a.stdout, "dismissed the pairing request %s of %s on %s\n", orDash(req.Metadata.Code), sender, ch)
				}
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().StringVar(&account, "account", "", "the channel's account `ID` (when the code is pending on several)")
	if use == "approve" {
		cmd.Flags().BoolVar(&notify, "notify", false, "tell the sender they were approved")
	}
	return cmd
}
