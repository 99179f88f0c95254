package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"
	"rsc.io/qr"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

// shortIDLen is how much of a device or node id the tables show; any
// unique prefix is accepted back on the command line.
const shortIDLen = 12

func (a *app) devicesCmd() *cobra.Command {
	c := groupCmd("devices", "List, approve and manage paired devices",
		a.devicesListCmd(),
		a.devicesApproveCmd(),
		a.devicesRejectCmd(),
		a.devicesRemoveCmd(),
		a.devicesRenameCmd(),
		a.devicesRotateCmd(),
		a.devicesRevokeCmd(),
		a.devicesSetupCodeCmd(),
	)
	c.Long = "List, approve and manage the devices paired with the gateway.\n\n" +
		"Devices on this machine are paired silently; remote ones wait in \"Pending\" until approved.\n" +
		"Ids may be shortened to any unique prefix."
	return c
}

// withGateway connects with the CLI's full operator scope set (like
// `pincer call`) for the length of --timeout and runs fn.
func (a *app) withGateway(cmd *cobra.Command, f *clientFlags, fn func(ctx context.Context, s *session) error) error {
	ctx, cancel := withTimeout(cmd.Context(), f)
	defer cancel()
	s, err := a.connect(ctx, f, protocol.CLIDefaultScopes)
	if err != nil {
		return err
	}
	defer s.c.Close()
	return fn(ctx, s)
}

// callInto calls method and decodes its result; raw is the result as
// received, for --json.
func callInto(ctx context.Context, s *session, method string, params, out any) (json.RawMessage, error) {
	raw, err := s.c.CallRaw(ctx, method, params, client.CallOptions{})
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("unexpected %s result: %v", method, err)
		}
	}
	return raw, nil
}

// callShow calls method and prints the result: as received with --json
// (asJSON), otherwise through show.
func callShow[T any](ctx context.Context, s *session, asJSON bool, w io.Writer, method string, params any, show func(T)) error {
	var out T
	raw, err := callInto(ctx, s, method, params, &out)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, raw)
	}
	show(out)
	return nil
}

func (a *app) devicesListCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pending pairing requests and paired devices",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				return callShow(ctx, s, f.json, a.stdout, "device.pair.list", struct{}{}, func(res protocol.DevicePairListResult) {
					printDeviceList(a.stdout, res, time.Now())
				})
			})
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

func printDeviceList(w io.Writer, res protocol.DevicePairListResult, now time.Time) {
	fmt.Fprintf(w, "Pending (%d)\n", len(res.Pending))
	if len(res.Pending) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		rows := make([][]string, 0, len(res.Pending))
		for _, p := range res.Pending {
			role := p.Role
			if role == "" {
				role = strings.Join(p.Roles, ",")
			}
			if p.Reason != "" && p.Reason != "not-paired" {
				role += " (" + strings.ReplaceAll(p.Reason, "-", " ") + ")"
			}
			rows = append(rows, []string{p.RequestID, shortID(p.DeviceID), orDash(p.DisplayName), orDash(p.Platform),
				orDash(role), scopeList(p.Scopes), orDash(p.RemoteIP), ago(p.Ts, now)})
		}
		printTable(w, "  ", []string{"REQUEST", "DEVICE", "NAME", "PLATFORM", "ROLE", "SCOPES", "REMOTE IP", "AGE"}, rows)
		fmt.Fprintln(w, "  Approve with `pincer devices approve <request>` (a unique prefix is enough).")
	}
	fmt.Fprintf(w, "\nPaired (%d)\n", len(res.Paired))
	if len(res.Paired) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	rows := make([][]string, 0, len(res.Paired))
	for _, d := range res.Paired {
		cl := d.ClientID
		if d.ClientMode != "" && d.ClientMode != d.ClientID {
			cl += "/" + d.ClientMode
		}
		rows = append(rows, []string{shortID(d.DeviceID), orDash(deviceName(d)), orDash(d.Platform), orDash(cl),
			orDash(strings.Join(d.Roles, ",")), scopeList(d.Scopes), orDash(d.ApprovedVia), yesNo(d.Connected), ago(d.LastSeenAtMs, now)})
	}
	printTable(w, "  ", []string{"DEVICE", "NAME", "PLATFORM", "CLIENT", "ROLES", "SCOPES", "APPROVED VIA", "CONNECTED", "LAST SEEN"}, rows)
}

func deviceName(d protocol.PairedDevice) string {
	if d.Label != "" {
		return d.Label
	}
	return d.DisplayName
}

func (a *app) devicesApproveCmd() *cobra.Command {
	return a.pendingDeviceCmd("approve", "Approve a pending pairing request", "device.pair.approve",
		func(w io.Writer, p protocol.PendingDevice, raw json.RawMessage) {
			var res struct {
				Device protocol.PairedDevice `json:"device"`
			}
			_ = json.Unmarshal(raw, &res)
			d := res.Device
			if d.DeviceID == "" {
				d = protocol.PairedDevice{DeviceID: p.DeviceID, DisplayName: p.DisplayName, Roles: p.Roles, Scopes: p.Scopes}
			}
			fmt.Fprintf(w, "Approved device %s", describeDevice(d.DeviceID, deviceName(d)))
			if len(d.Roles) > 0 {
				fmt.Fprintf(w, " as %s", strings.Join(d.Roles, ", "))
			}
			if len(d.Scopes) > 0 {
				fmt.Fprintf(w, " (scopes: %s)", scopeList(d.Scopes))
			}
			fmt.Fprintln(w, ".")
		})
}

func (a *app) devicesRejectCmd() *cobra.Command {
	return a.pendingDeviceCmd("reject", "Reject a pending pairing request", "device.pair.reject",
		func(w io.Writer, p protocol.PendingDevice, _ json.RawMessage) {
			fmt.Fprintf(w, "Rejected pairing request %s of device %s.\n", p.RequestID, describeDevice(p.DeviceID, p.DisplayName))
		})
}

// pendingDeviceCmd is approve/reject: resolve REQUEST_ID (or the pending
// device's id) through device.pair.list, then call method.
func (a *app) pendingDeviceCmd(use, short, method string, done func(io.Writer, protocol.PendingDevice, json.RawMessage)) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   use + " REQUEST_ID",
		Short: short,
		Long: short + ".\n\nREQUEST_ID is a request id from `pincer devices list`, or any unique prefix of it;\n" +
			"the id (or a prefix) of the pending device is accepted too.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg, err := idArg(args[0], "request id")
			if err != nil {
				return err
			}
			return a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				var list protocol.DevicePairListResult
				if _, err := callInto(ctx, s, "device.pair.list", struct{}{}, &list); err != nil {
					return err
				}
				p, err := resolveOne("pending request", arg, list.Pending,
					func(p protocol.PendingDevice) string {
						return p.RequestID + "  device " + describeDevice(p.DeviceID, p.DisplayName)
					},
					func(p protocol.PendingDevice) bool { return p.RequestID == arg || p.DeviceID == arg },
					func(p protocol.PendingDevice) bool {
						return strings.HasPrefix(p.RequestID, arg) || strings.HasPrefix(p.DeviceID, arg)
					})
				if err != nil {
					return err
				}
				raw, err := callInto(ctx, s, method, protocol.DevicePairRequestParams{RequestID: p.RequestID}, nil)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				done(a.stdout, p, raw)
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

// pairedDeviceCmd is a command on one paired device: DEVICE_ID (or a
// unique prefix) is resolved through device.pair.list first.
type pairedDeviceCmd struct {
	use, short, long string
	args             int // positional args after DEVICE_ID
	flags            func(cmd *cobra.Command)
	check            func(args []string) error
	run              func(ctx context.Context, s *session, d protocol.PairedDevice, args []string) (json.RawMessage, error)
	done             func(w io.Writer, d protocol.PairedDevice, raw json.RawMessage)
}

func (a *app) pairedDeviceCommand(pc pairedDeviceCmd) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   pc.use,
		Short: pc.short,
		Long:  pc.long,
		Args:  usageArgs(cobra.ExactArgs(1 + pc.args)),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg, err := idArg(args[0], "device id")
			if err != nil {
				return err
			}
			if pc.check != nil {
				if err := pc.check(args[1:]); err != nil {
					return err
				}
			}
			return a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				d, err := resolvePairedDevice(ctx, s, arg)
				if err != nil {
					return err
				}
				raw, err := pc.run(ctx, s, d, args[1:])
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				pc.done(a.stdout, d, raw)
				return nil
			})
		},
	}
	if pc.long == "" {
		cmd.Long = pc.short + ".\n\nDEVICE_ID is a device id from `pincer devices list`, or any unique prefix of it."
	}
	addClientFlags(cmd, &f)
	if pc.flags != nil {
		pc.flags(cmd)
	}
	return cmd
}

func resolvePairedDevice(ctx context.Context, s *session, arg string) (protocol.PairedDevice, error) {
	var list protocol.DevicePairListResult
	if _, err := callInto(ctx, s, "device.pair.list", struct{}{}, &list); err != nil {
		return protocol.PairedDevice{}, err
	}
	return resolveOne("paired device", arg, list.Paired,
		func(d protocol.PairedDevice) string { return describeDevice(d.DeviceID, deviceName(d)) },
		func(d protocol.PairedDevice) bool { return d.DeviceID == arg },
		func(d protocol.PairedDevice) bool { return strings.HasPrefix(d.DeviceID, arg) })
}

func (a *app) devicesRemoveCmd() *cobra.Command {
	return a.pairedDeviceCommand(pairedDeviceCmd{
		use: "remove DEVICE_ID", short: "Unpair a device and close its connections",
		run: func(ctx context.Context, s *session, d protocol.PairedDevice, _ []string) (json.RawMessage, error) {
			return callInto(ctx, s, "device.pair.remove", protocol.DevicePairRemoveParams{DeviceID: d.DeviceID}, nil)
		},
		done: func(w io.Writer, d protocol.PairedDevice, _ json.RawMessage) {
			fmt.Fprintf(w, "Removed device %s.\n", describeDevice(d.DeviceID, deviceName(d)))
		},
	})
}

func (a *app) devicesRenameCmd() *cobra.Command {
	return a.pairedDeviceCommand(pairedDeviceCmd{
		use: "rename DEVICE_ID LABEL", short: "Give a paired device a label", args: 1,
		check: func(args []string) error {
			label := strings.TrimSpace(args[0])
			if label == "" {
				return usagef("empty label")
			}
			if utf8.RuneCountInString(label) > 64 {
				return usagef("label is longer than 64 characters")
			}
			return nil
		},
		run: func(ctx context.Context, s *session, d protocol.PairedDevice, args []string) (json.RawMessage, error) {
			return callInto(ctx, s, "device.pair.rename", protocol.DevicePairRenameParams{DeviceID: d.DeviceID, Label: strings.TrimSpace(args[0])}, nil)
		},
		done: func(w io.Writer, d protocol.PairedDevice, raw json.RawMessage) {
			var res struct{ Label string }
			_ = json.Unmarshal(raw, &res)
			fmt.Fprintf(w, "Renamed device %s to %q.\n", shortID(d.DeviceID), res.Label)
		},
	})
}

func (a *app) devicesRotateCmd() *cobra.Command {
	var role string
	var scopes []string
	return a.pairedDeviceCommand(pairedDeviceCmd{
		use: "rotate DEVICE_ID", short: "Issue a new device token for one of a device's roles",
		long: "Issue a new device token for one of a device's roles; the old one stops working and the\n" +
			"connections that used it are closed. --scope narrows an operator token (default: the\n" +
			"device's approved scopes). The gateway only returns the new token to the device itself.\n\n" +
			"DEVICE_ID is a device id from `pincer devices list`, or any unique prefix of it.",
		flags: func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&role, "role", protocol.RoleOperator, "the token's `ROLE` (operator or node)")
			cmd.Flags().StringArrayVar(&scopes, "scope", nil, "operator `SCOPE` of the new token (repeatable; \"read\" means operator.read)")
		},
		check: func([]string) error { return checkRole(role) },
		run: func(ctx context.Context, s *session, d protocol.PairedDevice, _ []string) (json.RawMessage, error) {
			p := protocol.DeviceTokenRotateParams{DeviceID: d.DeviceID, Role: strings.TrimSpace(role)}
			for _, sc := range scopes {
				p.Scopes = append(p.Scopes, expandScope(sc))
			}
			return callInto(ctx, s, "device.token.rotate", p, nil)
		},
		done: func(w io.Writer, d protocol.PairedDevice, raw json.RawMessage) {
			var res protocol.DeviceTokenRotateResult
			_ = json.Unmarshal(raw, &res)
			fmt.Fprintf(w, "Rotated the %s token of device %s", res.Role, describeDevice(d.DeviceID, deviceName(d)))
			if len(res.Scopes) > 0 {
				fmt.Fprintf(w, "; scopes: %s", scopeList(res.Scopes))
			}
			fmt.Fprintln(w, ".")
			if res.Token != "" {
				fmt.Fprintf(w, "Token: %s\n", res.Token)
			} else if res.TokenDelivery != "" {
				fmt.Fprintf(w, "The new token was not returned (%s): the gateway only hands it to the device itself.\n", res.TokenDelivery)
			}
		},
	})
}

func (a *app) devicesRevokeCmd() *cobra.Command {
	var role string
	return a.pairedDeviceCommand(pairedDeviceCmd{
		use: "revoke DEVICE_ID", short: "Revoke a device's token for one role",
		long: "Revoke a device's token for one role; the connections that used it are closed. The device\n" +
			"stays paired.\n\nDEVICE_ID is a device id from `pincer devices list`, or any unique prefix of it.",
		flags: func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&role, "role", protocol.RoleOperator, "the token's `ROLE` (operator or node)")
		},
		check: func([]string) error { return checkRole(role) },
		run: func(ctx context.Context, s *session, d protocol.PairedDevice, _ []string) (json.RawMessage, error) {
			return callInto(ctx, s, "device.token.revoke", protocol.DeviceTokenRevokeParams{DeviceID: d.DeviceID, Role: strings.TrimSpace(role)}, nil)
		},
		done: func(w io.Writer, d protocol.PairedDevice, raw json.RawMessage) {
			var res struct{ Role string }
			_ = json.Unmarshal(raw, &res)
			fmt.Fprintf(w, "Revoked the %s token of device %s.\n", res.Role, describeDevice(d.DeviceID, deviceName(d)))
		},
	})
}

func checkRole(role string) error {
	if strings.TrimSpace(role) == "" {
		return usagef("empty --role")
	}
	return nil
}

// expandScope accepts the short names of operator scopes ("read").
func expandScope(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "operator.") && protocol.IsKnownScope("operator."+s) {
		return "operator." + s
	}
	return s
}

var bootstrapProfiles = []string{"limited", "node", "voice-node"}

func (a *app) devicesSetupCodeCmd() *cobra.Command {
	var f clientFlags
	var publicURL, profile, pngPath string
	var showQR bool
	cmd := &cobra.Command{
		Use:   "setup-code",
		Short: "Create a one-time setup code (and QR) that pairs a phone or node",
		Long: "Create a one-time setup code that pairs a new device without an approval step:\n" +
			"the app scans the QR code (or takes the pasted code), connects to the gateway URL in it\n" +
			"and is paired with the access of the bootstrap profile. The code expires after a few minutes.\n\n" +
			"A gateway that only listens on loopback cannot be reached by another device: pass\n" +
			"--public-url with an address the device can reach.",
		Example: "  pincer devices setup-code --public-url ws://192.168.1.20:18789 --qr\n" +
			"  pincer devices setup-code --public-url wss://gw.example.com --bootstrap-profile node --png pair.png",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := protocol.DevicePairSetupCodeParams{}
			if publicURL != "" {
				u, err := normalizeURL(publicURL)
				if err != nil {
					return usagef("invalid --public-url %q: %v", publicURL, err)
				}
				p.PublicURL = u
			}
			if flagChanged(cmd.Flags(), "bootstrap-profile") {
				profile = strings.TrimSpace(profile)
				if !slices.Contains(bootstrapProfiles, profile) {
					return usagef("--bootstrap-profile must be limited, node or voice-node (got %q)", profile)
				}
				p.BootstrapProfile = profile
			}
			if showQR && f.json {
				return usagef("--qr prints to the terminal; it cannot be combined with --json")
			}
			if !f.json && pngPath == "" {
				no := false
				p.IncludeQR = &no // the terminal QR is drawn here
			}
			return a.withGateway(cmd, &f, func(ctx context.Context, s *session) error {
				var res protocol.DevicePairSetupCodeResult
				raw, err := callInto(ctx, s, "device.pair.setupCode", p, &res)
				if err != nil {
					var pe *protocol.Error
					if errors.As(err, &pe) && pe.DetailCode() != protocol.DetailMissingScope {
						fmt.Fprint(a.stderr, formatError(err))
						fmt.Fprint(a.stderr, setupCodeHint(s.target.URL, publicURL != ""))
						return silentError{err}
					}
					return err
				}
				if pngPath != "" {
					if err := writeQRPNG(pngPath, res); err != nil {
						return err
					}
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				printSetupCode(a.stdout, res, time.Now())
				if showQR {
					fmt.Fprintln(a.stdout)
					qrterminal.GenerateWithConfig(res.SetupCode, qrterminal.Config{
						Level: qrterminal.M, Writer: a.stdout, HalfBlocks: true, QuietZone: 2,
						BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK,
						WhiteChar: qrterminal.WHITE_WHITE, BlackWhiteChar: qrterminal.BLACK_WHITE,
					})
				}
				if pngPath != "" {
					fmt.Fprintf(a.stdout, "QR code written to %s\n", pngPath)
				}
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	fs := cmd.Flags()
	fs.StringVar(&publicURL, "public-url", "", "the gateway `URL` the device should connect to (ws:// or wss://)")
	fs.StringVar(&profile, "bootstrap-profile", "limited", "bootstrap `PROFILE`: limited (node + limited operator), node, or voice-node")
	fs.BoolVar(&showQR, "qr", false, "draw the setup code as a QR code in the terminal")
	fs.StringVar(&pngPath, "png", "", "write the QR code as a PNG to `FILE` (mode 0600: it holds a pairing secret)")
	return cmd
}

func printSetupCode(w io.Writer, res protocol.DevicePairSetupCodeResult, now time.Time) {
	gw := res.GatewayURL
	if res.URLSource != "" {
		gw += " (from " + res.URLSource + ")"
	}
	rows := [][2]string{{"Setup code", res.SetupCode}, {"Gateway", gw}}
	if res.Access != "" {
		rows = append(rows, [2]string{"Access", res.Access})
	}
	if res.ExpiresAtMs > 0 {
		exp := time.UnixMilli(res.ExpiresAtMs)
		rows = append(rows, [2]string{"Expires", exp.Local().Format("2006-01-02 15:04:05") + " (in " + formatDuration(exp.Sub(now).Round(time.Second)) + ")"})
	}
	printRows(w, rows, "")
	fmt.Fprintln(w, "The code pairs one device, once; keep it private until it is used.")
}

// setupCodeHint says how to get a setup code from a gateway that refused.
func setupCodeHint(target string, hadPublicURL bool) string {
	if hadPublicURL {
		return "Hint: --public-url must be a ws:// or wss:// URL at which the device reaches this gateway.\n"
	}
	example := "ws://HOST:PORT"
	if u, err := url.Parse(target); err == nil && isLoopbackURL(target) {
		host := "HOST"
		if ip := lanIPv4(); ip != "" {
			host = ip
		}
		port := u.Port()
		if port == "" {
			port = "PORT"
		}
		example = "ws://" + net.JoinHostPort(host, port)
	}
	return "Hint: pass --public-url with an address the device can reach (e.g. --public-url " + example +
		"), or bind the gateway to the LAN (gateway.bind: lan).\n"
}

// lanIPv4 is this machine's first private IPv4 address, for the hint.
func lanIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip := n.IP.To4(); ip != nil && ip.IsPrivate() {
				return ip.String()
			}
		}
	}
	return ""
}

// writeQRPNG writes the gateway's QR image, or one encoded here when the
// gateway sent none, readable by the owner only.
func writeQRPNG(path string, res protocol.DevicePairSetupCodeResult) error {
	var png []byte
	if b64, ok := strings.CutPrefix(res.QRDataURL, "data:image/png;base64,"); ok {
		if b, err := base64.StdEncoding.DecodeString(b64); err == nil {
			png = b
		}
	}
	if png == nil {
		code, err := qr.Encode(res.SetupCode, qr.M)
		if err != nil {
			return fmt.Errorf("cannot encode the QR code: %w", err)
		}
		png = code.PNG()
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// An existing file keeps its mode on open: tighten it before writing.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(png); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// resolveOne picks the item an id argument names. The tiers are tried in
// order (e.g. exact id, then prefix); the first tier with matches decides,
// and more than one match there is an error that lists them.
func resolveOne[T any](what, arg string, items []T, describe func(T) string, tiers ...func(T) bool) (T, error) {
	var zero T
	for _, match := range tiers {
		var hits []T
		for _, it := range items {
			if match(it) {
				hits = append(hits, it)
			}
		}
		switch len(hits) {
		case 0:
			continue
		case 1:
			return hits[0], nil
		default:
			return zero, fmt.Errorf("%q matches %d of the %ss; give more of the id:\n%s", arg, len(hits), what, candidateList(hits, describe))
		}
	}
	if len(items) == 0 {
		return zero, fmt.Errorf("no %s matches %q: there are no %ss", what, arg, what)
	}
	return zero, fmt.Errorf("no %s matches %q; the %ss are:\n%s", what, arg, what, candidateList(items, describe))
}

func candidateList[T any](items []T, describe func(T) string) string {
	const maxShown = 20
	var b strings.Builder
	for i, it := range items {
		if i == maxShown {
			fmt.Fprintf(&b, "  … and %d more\n", len(items)-maxShown)
			break
		}
		b.WriteString("  " + describe(it) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func idArg(s, what string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", usagef("empty %s", what)
	}
	return s, nil
}

func describeDevice(id, name string) string {
	if name == "" {
		return shortID(id)
	}
	return shortID(id) + " (" + name + ")"
}

func shortID(id string) string {
	if len(id) <= shortIDLen {
		return id
	}
	return id[:shortIDLen]
}

// scopeList drops the "operator." every operator scope starts with.
func scopeList(scopes []string) string {
	if len(scopes) == 0 {
		return "-"
	}
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = strings.TrimPrefix(s, "operator.")
	}
	return strings.Join(out, ",")
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ago is how long ago a ms timestamp was ("-" when unset).
func ago(ms int64, now time.Time) string {
	if ms <= 0 {
		return "-"
	}
	d := now.Sub(time.UnixMilli(ms))
	if d < time.Second {
		return "just now"
	}
	return formatDuration(d) + " ago"
}

// printTable prints aligned columns under a header.
func printTable(w io.Writer, indent string, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range cells {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
}
