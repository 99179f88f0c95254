package main

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/config"
)

// withOpener replaces the browser opener for a test; it records the URLs.
func withOpener(t *testing.T, err error) *[]string {
	t.Helper()
	var opened []string
	prev := browserOpener
	browserOpener = func(u string) error {
		opened = append(opened, u)
		return err
	}
	t.Cleanup(func() { browserOpener = prev })
	return &opened
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestDashboardOpensTheBrowser(t *testing.T) {
	g := startTestGateway(t, "")
	opened := withOpener(t, nil)
	base := "http://" + strings.TrimPrefix(g.URL, "ws://") + "/"
	r := runAt(t, g, "dashboard")
	mustContain(t, "dashboard", r, "Opened the Control UI: "+base)
	if strings.Contains(r.stdout+r.stderr, g.Token) {
		t.Fatalf("the token was printed although a browser opened it:\n%s%s", r.stdout, r.stderr)
	}
	if len(*opened) != 1 || (*opened)[0] != base+"#token="+url.QueryEscape(g.Token) {
		t.Fatalf("opened %q", *opened)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestDashboardPrintsTheURLWithoutABrowser(t *testing.T) {
	g := startTestGateway(t, "")
	base := "http://" + strings.TrimPrefix(g.URL, "ws://") + "/"
	want := base + "#token=" + url.QueryEscape(g.Token)

	opened := withOpener(t, errNoBrowser)
	r := runAt(t, g, "dashboard")
	mustContain(t, "no browser", r, "do not share it", "\n"+want+"\n")
	if len(*opened) != 1 {
		t.Fatalf("opener not tried: %q", *opened)
	}

	*opened = nil
	r = runAt(t, g, "dashboard", "--no-open")
	mustContain(t, "--no-open", r, "\n"+want+"\n")
	if len(*opened) != 0 {
		t.Fatalf("--no-open opened %q", *opened)
	}

	// A failing opener is reported, and the URL printed.
	withOpener(t, errors.New("xdg-open: exit status 3"))
	r = runAt(t, g, "dashboard")
	mustContain(t, "failing opener", r, want)
	if !strings.Contains(r.stderr, "could not open a browser: xdg-open: exit status 3") || strings.Contains(r.stderr, g.Token) {
		t.Fatalf("stderr: %s", r.stderr)
	}
}

func TestDashboardResolvesTheLocalGateway(t *testing.T) {
	isolate(t)
	p, err := config.ResolvePaths("")
	if err != nil {
		t.Fatal(err)
	}
	port := closedPort(t)
	writeFile(t, p.ConfigPath, `{gateway: {port: `+strconv.Itoa(port)+`}}`)
	writeFile(t, p.TokenPath(), "file+tok/en=\n")
	withOpener(t, errNoBrowser)
	r := runCLI(t, "dashboard")
	want := "http://127.0.0.1:" + strconv.Itoa(port) + "/#token=file%2Btok%2Fen%3D"
	mustContain(t, "local gateway", r, "\n"+want+"\n")
	if !strings.Contains(r.stderr, "no gateway answers at http://127.0.0.1:"+strconv.Itoa(port)+"/") {
		t.Errorf("no warning about the stopped gateway: %s", r.stderr)
	}

	// --url and --token win; wss maps to https; a path or query is dropped.
	r = runCLI(t, "dashboard", "--no-open", "--url", "wss://gw.example:8443/ws?x=1", "--token", "T k")
	mustContain(t, "explicit", r, "\nhttps://gw.example:8443/#token=T+k\n")

	// No token anywhere: the plain URL, and a note.
	isolate(t)
	r = runCLI(t, "dashboard", "--no-open", "--url", "ws://127.0.0.1:"+strconv.Itoa(port))
	mustContain(t, "no token", r, "\nhttp://127.0.0.1:"+strconv.Itoa(port)+"/\n")
	if strings.Contains(r.stdout, "#token") || !strings.Contains(r.stderr, "no gateway token was found") {
		t.Errorf("without a token:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}

	mustFail(t, "bad url", runCLI(t, "dashboard", "--url", "ftp://x"), exitUsage, "ftp")
	mustFail(t, "args", runCLI(t, "dashboard", "extra"), exitUsage)
}

func TestDashboardWithTheUIDisabled(t *testing.T) {
	g := startTestGateway(t, `{gateway: {controlUi: {enabled: false}}}`)
	opened := withOpener(t, nil)
	mustFail(t, "disabled", runAt(t, g, "dashboard"), exitError, "gateway.controlUi.enabled: false")
	if len(*opened) != 0 {
		t.Fatalf("opened %q", *opened)
	}
}
