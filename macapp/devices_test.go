package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// startTestGateway runs a real gateway for the CLI to talk to.
func startTestGateway(t *testing.T, config string) *daemontest.Gateway {
	t.Helper()
	isolate(t)
	return daemontest.Start(t, daemon.Options{}, config)
}

// runAt runs a CLI command against the gateway with its URL and token.
func runAt(t *testing.T, g *daemontest.Gateway, args ...string) cliResult {
	t.Helper()
	return runCLI(t, append(args, "--url", g.URL, "--token", g.Token)...)
}

func newIdentity(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// appOptions connects as the macOS app with a device identity.
func appOptions(g *daemontest.Gateway, id *identity.Identity) client.Options {
	return client.Options{URL: g.URL, Token: g.Token, ClientID: "openclaw-macos", ClientMode: "ui",
		Platform: "macos 15.4.0", DeviceFamily: "Mac", DisplayName: "Studio Mac",
		ConnectParamsHook: func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) { id.SignConnect(p, ch) }}
}

func dialErr(opt client.Options) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Dial(ctx, opt)
}

func mustContain(t *testing.T, what string, r cliResult, want ...string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Fatalf("%s: no %q in\n%s", what, w, r.stdout)
		}
	}
}

func mustFail(t *testing.T, what string, r cliResult, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("%s: no %q in stderr\n%s", what, w, r.stderr)
		}
	}
}

func TestDevicesAgainstGateway(t *testing.T) {
	g := startTestGateway(t, `{gateway: {trustedProxies: ["127.0.0.1"]}}`)

	// A local app: paired silently.
	local := newIdentity(t)
	g.DialWith(t, appOptions(g, local))

	// A phone behind a proxy: remote, so it waits for approval.
	phone := newIdentity(t)
	phoneOpt := client.Options{URL: g.URL, Token: g.Token, ClientID: "openclaw-ios", ClientMode: "ui",
		Platform: "iOS 18.4.0", DeviceFamily: "iPhone", DisplayName: "Test iPhone",
		Scopes:            []string{protocol.ScopeRead, protocol.ScopeWrite},
		Header:            http.Header{"X-Forwarded-For": []string{"10.1.2.3"}},
		ConnectParamsHook: func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) { phone.SignConnect(p, ch) }}
	_, err := dialErr(phoneOpt)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.DetailCode() != protocol.DetailPairingRequired {
		t.Fatalf("remote connect: %v", err)
	}
	requestID := detailString(pe, "requestId")
	if requestID == "" {
		t.Fatalf("no requestId in %+v", pe)
	}

	r := runAt(t, g, "devices", "list")
	mustContain(t, "devices list", r,
		"Pending (1)\n", requestID, shortID(phone.DeviceID), "Test iPhone", "iOS 18.4.0", "read,write", "10.1.2.3",
		"Paired (1)\n", shortID(local.DeviceID), "Studio Mac", "macos 15.4.0", "openclaw-macos/ui", "silent", "yes")
	if strings.Contains(r.stdout, phone.DeviceID) || strings.Contains(r.stdout, local.DeviceID) {
		t.Fatalf("full device ids in the table:\n%s", r.stdout)
	}

	r = runAt(t, g, "devices", "list", "--json")
	var list protocol.DevicePairListResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Pending) != 1 || len(list.Paired) != 1 ||
		list.Paired[0].DeviceID != local.DeviceID || list.Pending[0].RequestID != requestID {
		t.Fatalf("devices list --json: %+v", r)
	}

	// Unknown ids list what there is.
	mustFail(t, "approve unknown", runAt(t, g, "devices", "approve", "zz-nope"), exitError,
		`no pending request matches "zz-nope"`, requestID)
	mustFail(t, "approve empty", runAt(t, g, "devices", "approve", " "), exitUsage, "empty request id")

	// Approve by a prefix of the request id; the phone then connects.
	r = runAt(t, g, "devices", "approve", requestID[:8])
	mustContain(t, "devices approve", r, "Approved device "+shortID(phone.DeviceID)+" (Test iPhone) as operator (scopes: read,write).")
	g.DialWith(t, phoneOpt)
	mustFail(t, "approve again", runAt(t, g, "devices", "approve", requestID[:8]), exitError, "no pending request matches", "there are no pending requests")

	// Rename, by prefix.
	r = runAt(t, g, "devices", "rename", local.DeviceID[:10], "Desk Mac")
	mustContain(t, "devices rename", r, `Renamed device `+shortID(local.DeviceID)+` to "Desk Mac".`)
	mustContain(t, "list after rename", runAt(t, g, "devices", "list"), "Desk Mac", "Paired (2)")
	mustFail(t, "rename empty", runAt(t, g, "devices", "rename", local.DeviceID[:10], "  "), exitUsage, "empty label")

	// Rotate from another device: the token is withheld.
	r = runAt(t, g, "devices", "rotate", local.DeviceID[:10], "--scope", "read")
	mustContain(t, "devices rotate", r, "Rotated the operator token of device "+shortID(local.DeviceID)+" (Desk Mac); scopes: read.",
		"not returned (withheld-cross-device)")
	if strings.Contains(r.stdout, "Token:") {
		t.Fatalf("token printed: %s", r.stdout)
	}
	r = runAt(t, g, "devices", "rotate", local.DeviceID, "--json")
	var rot protocol.DeviceTokenRotateResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rot) != nil || rot.DeviceID != local.DeviceID || rot.Role != "operator" || rot.TokenDelivery == "" {
		t.Fatalf("rotate --json: %+v", r)
	}
	mustFail(t, "rotate scope too wide", runAt(t, g, "devices", "rotate", local.DeviceID[:10], "--scope", "admin"), exitError, "exceed")

	// Revoke.
	r = runAt(t, g, "devices", "revoke", local.DeviceID[:10], "--role", "operator")
	mustContain(t, "devices revoke", r, "Revoked the operator token of device "+shortID(local.DeviceID)+" (Desk Mac).")
	r = runAt(t, g, "devices", "list", "--json")
	list = protocol.DevicePairListResult{}
	_ = json.Unmarshal([]byte(r.stdout), &list)
	for _, d := range list.Paired {
		if d.DeviceID == local.DeviceID && len(d.Tokens) != 0 {
			t.Fatalf("tokens after revoke: %+v", d.Tokens)
		}
	}

	// Remove the phone; an unknown device lists the paired ones.
	r = runAt(t, g, "devices", "remove", phone.DeviceID[:9])
	mustContain(t, "devices remove", r, "Removed device "+shortID(phone.DeviceID)+" (Test iPhone).")
	r = runAt(t, g, "devices", "list")
	mustContain(t, "list after remove", r, "Paired (1)")
	if strings.Contains(r.stdout, shortID(phone.DeviceID)) {
		t.Fatalf("removed device still listed:\n%s", r.stdout)
	}
	mustFail(t, "remove unknown", runAt(t, g, "devices", "remove", phone.DeviceID[:9]), exitError,
		"no paired device matches", shortID(local.DeviceID)+" (Desk Mac)")
}

func TestDevicesSetupCode(t *testing.T) {
	g := startTestGateway(t, "")

	// The test gateway only listens on loopback.
	r := runAt(t, g, "devices", "setup-code")
	mustFail(t, "setup-code on loopback", r, exitError, "Error: gateway is only reachable on loopback", "Hint: pass --public-url")

	dir := t.TempDir()
	png := filepath.Join(dir, "pair.png")
	if err := os.WriteFile(png, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runAt(t, g, "devices", "setup-code", "--public-url", "ws://192.168.1.5:18789", "--png", png)
	mustContain(t, "setup-code --png", r, "Setup code  ", "Gateway     ws://192.168.1.5:18789 (from request.publicUrl)",
		"Access      limited", "Expires     ", "QR code written to "+png)
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("png: %v %q", err, b[:min(len(b), 8)])
	}
	if fi, _ := os.Stat(png); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("png mode %v", fi.Mode().Perm())
	}

	r = runAt(t, g, "devices", "setup-code", "--public-url", "wss://gw.example.com", "--bootstrap-profile", "node", "--json")
	var res protocol.DevicePairSetupCodeResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.SetupCode == "" || res.GatewayURL != "wss://gw.example.com" ||
		res.Access != "node" || !strings.HasPrefix(res.QRDataURL, "data:image/png;base64,") {
		t.Fatalf("setup-code --json: %+v", r)
	}

	r = runAt(t, g, "devices", "setup-code", "--public-url", "ws://192.168.1.5:18789", "--qr")
	mustContain(t, "setup-code --qr", r, "Setup code  ", "█", "▀")

	mustFail(t, "bad profile", runAt(t, g, "devices", "setup-code", "--bootstrap-profile", "work"), exitUsage, "--bootstrap-profile must be")
	mustFail(t, "bad url", runAt(t, g, "devices", "setup-code", "--public-url", "ftp://x"), exitUsage, "invalid --public-url")
	mustFail(t, "qr and json", runAt(t, g, "devices", "setup-code", "--qr", "--json"), exitUsage, "--qr")
}

func TestResolveOne(t *testing.T) {
	ids := []string{"abc123", "abd456", "xyz789"}
	desc := func(s string) string { return "id " + s }
	pick := func(arg string) (string, error) {
		return resolveOne("thing", arg, ids, desc,
			func(s string) bool { return s == arg },
			func(s string) bool { return strings.HasPrefix(s, arg) })
	}
	if got, err := pick("abc"); err != nil || got != "abc123" {
		t.Fatalf("prefix: %q %v", got, err)
	}
	if got, err := pick("xyz789"); err != nil || got != "xyz789" {
		t.Fatalf("exact: %q %v", got, err)
	}
	_, err := pick("ab")
	if err == nil || !strings.Contains(err.Error(), `"ab" matches 2 of the things`) || !strings.Contains(err.Error(), "  id abc123\n  id abd456") {
		t.Fatalf("ambiguous: %v", err)
	}
	_, err = pick("q")
	if err == nil || !strings.Contains(err.Error(), `no thing matches "q"; the things are:`) || !strings.Contains(err.Error(), "id xyz789") {
		t.Fatalf("unknown: %v", err)
	}
}

func TestPrintDeviceList(t *testing.T) {
	now := time.UnixMilli(1_795_311_700_000)
	res := protocol.DevicePairListResult{
		Pending: []protocol.PendingDevice{{RequestID: "7b87f53c-0001", DeviceID: "2064b152aaaabbbbcccc", DisplayName: "Test iPhone",
			Platform: "iOS 18.4.0", Role: "operator", Scopes: []string{"operator.read"}, RemoteIP: "10.1.2.3", Reason: "scope-upgrade",
			Ts: now.Add(-90 * time.Second).UnixMilli()}},
	}
	var b bytes.Buffer
	printDeviceList(&b, res, now)
	want := "Pending (1)\n" +
		"  REQUEST        DEVICE        NAME         PLATFORM    ROLE                      SCOPES  REMOTE IP  AGE\n" +
		"  7b87f53c-0001  2064b152aaaa  Test iPhone  iOS 18.4.0  operator (scope upgrade)  read    10.1.2.3   1m 30s ago\n" +
		"  Approve with `pincer devices approve <request>` (a unique prefix is enough).\n" +
		"\nPaired (0)\n  none\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestDevicesNodesUsageErrors(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{
		{"devices", "list", "extra"},
		{"devices", "approve"},
		{"devices", "reject", "a", "b"},
		{"devices", "rename", "abc"},
		{"devices", "rename", "abc", strings.Repeat("x", 65)},
		{"devices", "rotate", "abc", "--role", " "},
		{"devices", "setup-code", "--png"},
		{"nodes", "describe"},
		{"nodes", "approve", ""},
		{"nodes", "rename", "n", " "},
		{"nodes", "invoke", "n"},
		{"nodes", "invoke", "n", "c", "{}", "extra"},
		{"nodes", "invoke", "n", " "},
		{"nodes", "invoke", "n", "c", "--invoke-timeout", "0"},
	} {
		r := runCLI(t, args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
