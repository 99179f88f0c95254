package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/telegram"
	"github.com/pincerhq/pincer/core/protocol"
)

// channelProbeTimeoutMs bounds a channels.status probe on the gateway.
const channelProbeTimeoutMs int64 = 8000

var adminScopes = []string{protocol.ScopeAdmin}

func (a *app) channelsCmd() *cobra.Command {
	c := groupCmd("channels", "Show, start, stop and log in messaging channels",
		a.channelsListCmd(),
		a.channelsStatusCmd(),
		a.channelsLifecycleCmd("start", "Start a channel account", "channels.start", "Started"),
		a.channelsLifecycleCmd("stop", "Stop a channel account", "channels.stop", "Stopped"),
		a.channelsLifecycleCmd("logout", "Log a channel account out (forget its stored login)", "channels.logout", "Logged out"),
		a.channelsLoginCmd(),
	)
	c.Long = "Show, start, stop and log in the gateway's messaging channels (Telegram, …).\n\n" +
		"CHANNEL is a channel id such as telegram; --account picks one of its accounts (default: the\n" +
		"channel's default account)."
	return c
}

// channelsStatus is channels.status's result, read leniently.
type channelsStatus struct {
	Ts                      int64                                `json:"ts"`
	ChannelOrder            []string                             `json:"channelOrder"`
	ChannelLabels           map[string]string                    `json:"channelLabels"`
	Channels                map[string]json.RawMessage           `json:"channels"`
	ChannelAccounts         map[string][]protocol.ChannelAccount `json:"channelAccounts"`
	ChannelDefaultAccountID map[string]string                    `json:"channelDefaultAccountId"`
	StatusIssues            []protocol.ChannelStatusIssue        `json:"statusIssues"`
}

// order is the channel ids: channelOrder first, then the others sorted.
func (st channelsStatus) order() []string {
	seen := map[string]bool{}
	var ids []string
	for _, id := range st.ChannelOrder {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var rest []string
	for id := range st.ChannelAccounts {
		if !seen[id] {
			seen[id] = true
			rest = append(rest, id)
		}
	}
	for id := range st.Channels {
		if !seen[id] {
			seen[id] = true
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	return append(ids, rest...)
}

// probe is an account's probe result: in its channelAccounts entry, or for
// the default account in the channel's summary (where Pincer puts it).
func (st channelsStatus) probe(id string, acct protocol.ChannelAccount) json.RawMessage {
	if len(acct.Probe) > 0 && string(acct.Probe) != "null" {
		return acct.Probe
	}
	if def, ok := st.ChannelDefaultAccountID[id]; !ok || def != acct.AccountID {
		return nil
	}
	var summary struct {
		Probe json.RawMessage `json:"probe"`
	}
	_ = json.Unmarshal(st.Channels[id], &summary)
	return summary.Probe
}

// channelArg normalises a channel id from the command line.
func channelArg(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", usagef("empty channel")
	}
	return s, nil
}

// accountFlag reads --account: unset is "", set must not be empty.
func accountFlag(fs *pflag.FlagSet, account string) (string, error) {
	account = strings.TrimSpace(account)
	if flagChanged(fs, "account") && account == "" {
		return "", usagef("empty --account")
	}
	return account, nil
}

func (a *app) channelsListCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List channel accounts and their state",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withScopedGateway(cmd, &f, readScopes, func(ctx context.Context, s *session) error {
				return callShow(ctx, s, f.json, a.stdout, "channels.status", struct{}{}, func(st channelsStatus) {
					printChannelList(a.stdout, st)
				})
			})
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

func printChannelList(w io.Writer, st channelsStatus) {
	var rows [][]string
	for _, id := range st.order() {
		for _, acct := range st.ChannelAccounts[id] {
			linked := "-"
			if acct.Linked != nil {
				linked = yesNo(*acct.Linked)
			}
			rows = append(rows, []string{id, orDash(acct.AccountID), yesNo(acct.Enabled), yesNo(acct.Configured), linked,
				yesNo(acct.Running), yesNo(acct.Connected), orDash(acct.HealthState), orDash(acct.Mode), lastError(acct)})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No channels configured.")
	} else {
		printTable(w, "", []string{"CHANNEL", "ACCOUNT", "ENABLED", "CONFIGURED", "LINKED", "RUNNING", "CONNECTED", "HEALTH", "MODE", "LAST ERROR"}, rows)
	}
	if n := len(st.StatusIssues); n > 0 {
		fmt.Fprintf(w, "%s; see `pincer channels status`.\n", plural(int64(n), "issue"))
	}
}

func lastError(acct protocol.ChannelAccount) string {
	if acct.LastError == nil {
		return "-"
	}
	return orDash(truncate(strings.ReplaceAll(*acct.LastError, "\n", " "), 80))
}

func (a *app) channelsStatusCmd() *cobra.Command {
	var f clientFlags
	var ch string
	var probe bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the channels' health, activity and setup issues",
		Long: "Show each channel account's state, health and last activity, and the setup issues the\n" +
			"gateway found. --probe asks each account to check its credentials and link now.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p protocol.ChannelsStatusParams
			if flagChanged(cmd.Flags(), "channel") {
				c, err := channelArg(ch)
				if err != nil {
					return err
				}
				p.Channel = c
			}
			if probe {
				yes, ms := true, channelProbeTimeoutMs
				p.Probe, p.TimeoutMs = &yes, &ms
			}
			return a.withScopedGateway(cmd, &f, readScopes, func(ctx context.Context, s *session) error {
				return callShow(ctx, s, f.json, a.stdout, "channels.status", p, func(st channelsStatus) {
					printChannelStatus(a.stdout, st, probe, time.Now())
				})
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().StringVar(&ch, "channel", "", "only channel `CHANNEL` (e.g. telegram)")
	cmd.Flags().BoolVar(&probe, "probe", false, "check each account's credentials and link now")
	return cmd
}

func printChannelStatus(w io.Writer, st channelsStatus, probe bool, now time.Time) {
	header := []string{"CHANNEL", "ACCOUNT", "STATE", "HEALTH", "MODE", "DM POLICY", "LAST IN", "LAST OUT", "LAST ERROR"}
	if probe {
		header = append(header, "PROBE")
	}
	var rows [][]string
	for _, id := range st.order() {
		for _, acct := range st.ChannelAccounts[id] {
			row := []string{id, orDash(acct.AccountID), accountState(acct), orDash(acct.HealthState), orDash(acct.Mode),
				orDash(acct.DMPolicy), never(acct.LastInboundAt, now), never(acct.LastOutboundAt, now), lastError(acct)}
			if probe {
				row = append(row, probeSummary(st.probe(id, acct)))
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No channels configured.")
	} else {
		printTable(w, "", header, rows)
	}
	if len(st.StatusIssues) == 0 {
		return
	}
	fmt.Fprintf(w, "\nIssues (%d)\n", len(st.StatusIssues))
	for _, is := range st.StatusIssues {
		where := is.Channel
		if is.AccountID != "" {
			where += "/" + is.AccountID
		}
		kind := ""
		if is.Kind != "" {
			kind = " [" + is.Kind + "]"
		}
		fmt.Fprintf(w, "  %s%s: %s\n", where, kind, is.Message)
		if is.Fix != "" {
			fmt.Fprintf(w, "    Fix: %s\n", is.Fix)
		}
	}
}

// accountState sums up an account's flags in one word or two.
func accountState(acct protocol.ChannelAccount) string {
	switch {
	case !acct.Enabled:
		return "disabled"
	case !acct.Configured:
		return "not configured"
	case acct.Linked != nil && !*acct.Linked:
		return "not linked"
	case acct.Connected:
		return "connected"
	case acct.Running:
		return "running"
	default:
		return "stopped"
	}
}

// never is ago for a nullable ms timestamp, "never" when unset.
func never(ms *int64, now time.Time) string {
	if ms == nil || *ms <= 0 {
		return "never"
	}
	return ago(*ms, now)
}

// probeSummary renders an account's probe result: {ok, error?} as "ok" /
// "failed: …", anything else as compact JSON.
func probeSummary(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "-"
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		if ok, isBool := m["ok"].(bool); isBool {
			if ok {
				if u := fieldStr(m, "username"); u != "" {
					return "ok (@" + u + ")"
				}
				if bot, _ := m["bot"].(map[string]any); bot != nil && fieldStr(bot, "username") != "" {
					return "ok (@" + fieldStr(bot, "username") + ")"
				}
				return "ok"
			}
			if e := fieldStr(m, "error"); e != "" {
				return "failed: " + truncate(e, 60)
			}
			return "failed"
		}
	}
	return truncate(string(raw), 60)
}

// channelAccountParams are the params of channels.start/stop/logout.
type channelAccountParams struct {
	Channel   string `json:"channel"`
	AccountID string `json:"accountId,omitempty"`
}

// channelAccountResult is their result: {channel, accountId, …}.
type channelAccountResult struct {
	Channel   string `json:"channel"`
	AccountID string `json:"accountId"`
}

// describe is "telegram account default" for the messages.
func (r channelAccountResult) describe(p channelAccountParams) string {
	ch, acct := r.Channel, r.AccountID
	if ch == "" {
		ch = p.Channel
	}
	if acct == "" {
		acct = p.AccountID
	}
	if acct == "" {
		return ch
	}
	return ch + " account " + acct
}

func (a *app) channelsLifecycleCmd(use, short, method, done string) *cobra.Command {
	var f clientFlags
	var account string
	var yes bool
	cmd := &cobra.Command{
		Use:   use + " CHANNEL",
		Short: short,
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch, err := channelArg(args[0])
			if err != nil {
				return err
			}
			acct, err := accountFlag(cmd.Flags(), account)
			if err != nil {
				return err
			}
			p := channelAccountParams{Channel: ch, AccountID: acct}
			if use == "logout" && !yes {
				if err := a.confirmLogout(p); err != nil {
					return err
				}
			}
			return a.withScopedGateway(cmd, &f, adminScopes, func(ctx context.Context, s *session) error {
				return callShow(ctx, s, f.json, a.stdout, method, p, func(res channelAccountResult) {
					fmt.Fprintf(a.stdout, "%s %s.\n", done, res.describe(p))
				})
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().StringVar(&account, "account", "", "the channel's account `ID` (default: its default account)")
	if use == "logout" {
		cmd.Long = "Log a channel account out: the gateway stops it and forgets its stored login (a bot token\n" +
			"in the secret store, a linked session). Asks for confirmation in a terminal; elsewhere --yes\n" +
			"is required."
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "log out without asking")
	}
	return cmd
}

func (a *app) confirmLogout(p channelAccountParams) error {
	what := channelAccountResult{}.describe(p)
	if !stdinInteractive() {
		return fmt.Errorf("not logging out %s without confirmation: run this in a terminal, or pass --yes", what)
	}
	if a.askYesNo(fmt.Sprintf("Log out %s? Its stored login is forgotten and it stops. [y/N] ", what)) {
		return nil
	}
	return fmt.Errorf("%s was not logged out", what)
}

// addLoginClientFlags is addClientFlags with the gateway token under
// --gateway-token: --token is the channel's own token here.
func addLoginClientFlags(cmd *cobra.Command, f *clientFlags) {
	tmp := &cobra.Command{}
	addClientFlags(tmp, f)
	tmp.Flags().VisitAll(func(fl *pflag.Flag) {
		c := *fl
		if c.Name == "token" {
			c.Name = "gateway-token"
		}
		cmd.Flags().AddFlag(&c)
	})
}

func (a *app) channelsLoginCmd() *cobra.Command {
	var f clientFlags
	var account, token, tokenFile, apiRoot string
	cmd := &cobra.Command{
		Use:   "login CHANNEL",
		Short: "Store a channel's credentials (Telegram: a bot token) and start it",
		Long: "Store a channel's credentials in this profile's secret store and ask the gateway to start it.\n\n" +
			"telegram: the bot token from @BotFather, given with --token or --token-file, or typed at the\n" +
			"prompt (without echo) or piped on stdin. It is checked with Telegram (getMe) before it is\n" +
			"stored. When no gateway is running, the gateway uses it the next time it starts.\n\n" +
			"The gateway's own token, when one is needed, is --gateway-token (or PINCER_GATEWAY_TOKEN).",
		Example: "  pincer channels login telegram\n" +
			"  pincer channels login telegram --token-file ~/.secrets/telegram-bot\n" +
			"  echo \"$BOT_TOKEN\" | pincer channels login telegram --account work",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch, err := channelArg(args[0])
			if err != nil {
				return err
			}
			if ch != "telegram" {
				return fmt.Errorf("channel %s has no login; configure it in the config file", ch)
			}
			acct, err := accountFlag(cmd.Flags(), account)
			if err != nil {
				return err
			}
			if acct == "" {
				acct = "default"
			}
			if flagChanged(cmd.Flags(), "token") && flagChanged(cmd.Flags(), "token-file") {
				return usagef("give --token or --token-file, not both")
			}
			botToken := strings.TrimSpace(token)
			switch {
			case flagChanged(cmd.Flags(), "token"):
				if botToken == "" {
					return usagef("empty --token")
				}
			case tokenFile != "":
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("cannot read --token-file: %w", err)
				}
				if botToken = strings.TrimSpace(string(b)); botToken == "" {
					return fmt.Errorf("--token-file %s is empty", tokenFile)
				}
			default:
				if botToken, err = a.readKey(cmd.InOrStdin(), false, "Telegram bot token"); err != nil {
					return err
				}
			}
			ctx, cancel := withTimeout(cmd.Context(), &f)
			defer cancel()
			username, err := telegram.Validate(ctx, botToken, apiRoot, nil)
			if err != nil {
				return fmt.Errorf("the bot token could not be verified with Telegram: %s", strings.ReplaceAll(err.Error(), botToken, "<token>"))
			}
			store, err := openSecrets(a.profile)
			if err != nil {
				return fmt.Errorf("cannot open the secret store: %w", err)
			}
			if err := store.Set(channel.SecretKey(ch, acct, "botToken"), botToken); err != nil {
				return err
			}
			out := loginResult{Channel: ch, AccountID: acct, Username: username, SecretBackend: store.Backend()}
			if !f.json {
				fmt.Fprintf(a.stdout, "Logged in as @%s; token stored in %s\n", username, store.Backend())
			}
			a.startAfterLogin(ctx, &f, &out)
			if f.json {
				b, err := json.Marshal(out)
				if err != nil {
					return err
				}
				return printJSON(a.stdout, b)
			}
			return nil
		},
	}
	addLoginClientFlags(cmd, &f)
	fs := cmd.Flags()
	fs.StringVar(&account, "account", "", "the channel's account `ID` (default: default)")
	fs.StringVar(&token, "token", "", "the bot `TOKEN` (visible in the process list: prefer the prompt or --token-file)")
	fs.StringVar(&tokenFile, "token-file", "", "read the bot token from `FILE`")
	fs.StringVar(&apiRoot, "api-root", "", "Telegram Bot API `URL` to check the token against (default: https://api.telegram.org)")
	return cmd
}

// loginResult is what `channels login --json` prints.
type loginResult struct {
	Channel       string          `json:"channel"`
	AccountID     string          `json:"accountId"`
	Username      string          `json:"username"`
	SecretBackend string          `json:"secretBackend"`
	Started       bool            `json:"started"`
	Start         json.RawMessage `json:"start,omitempty"`
	StartError    string          `json:"startError,omitempty"`
}

// startAfterLogin asks the gateway to start the account that was just
// logged in. The login already succeeded: a gateway that is not running
// (or cannot start it) only gets a note.
func (a *app) startAfterLogin(ctx context.Context, f *clientFlags, out *loginResult) {
	s, err := a.connect(ctx, f, adminScopes)
	if err != nil {
		out.StartError = reasonOf(err)
		fmt.Fprintf(a.stderr, "Note: could not reach the gateway to start %s (%s); it will use the token the next time it starts.\n",
			out.Channel, out.StartError)
		return
	}
	defer s.c.Close()
	if !isLoopbackURL(s.target.URL) {
		fmt.Fprintf(a.stderr, "Note: the token is stored on this machine; the gateway at %s only sees it if it runs here.\n", s.target.URL)
	}
	p := channelAccountParams{Channel: out.Channel, AccountID: out.AccountID}
	var res channelAccountResult
	raw, err := callInto(ctx, s, "channels.start", p, &res)
	if err != nil {
		out.StartError = reasonOf(err)
		fmt.Fprintf(a.stderr, "Note: the gateway did not start %s (%s); it will use the token the next time it starts.\n",
			res.describe(p), out.StartError)
		return
	}
	out.Started, out.Start = true, raw
	if !f.json {
		fmt.Fprintf(a.stdout, "Started %s.\n", res.describe(p))
	}
}

// reasonOf is an error in a few words, for a note.
func reasonOf(err error) string {
	var pe *protocol.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "no gateway is listening at " + connectTarget(err)
	case errors.As(err, &pe):
		return pe.Message
	}
	return errMessage(err)
}

// connectTarget is the URL a failed connect went to.
func connectTarget(err error) string {
	var ce *connectError
	if errors.As(err, &ce) {
		return ce.target.URL
	}
	return "the configured URL"
}
