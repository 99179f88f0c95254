//go:build unix

package interop

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

// forwardingProxy is a loopback reverse proxy that adds X-Forwarded-For to
// every upgrade request, so a client behind it is remote to the gateway.
func forwardingProxy(t *testing.T, target, forwardedFor string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				br := bufio.NewReader(c)
				var head strings.Builder
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						head.WriteString("X-Forwarded-For: " + forwardedFor + "\r\n\r\n")
						break
					}
					head.WriteString(line)
				}
				if _, err := io.WriteString(up, head.String()); err != nil {
					return
				}
				go func() { _, _ = io.Copy(up, br); up.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRemoteNodeWaitsForDeviceApproval: the official node host, reaching a
// Pincer gateway through a proxy that attributes it to 10.9.8.7, is not
// paired silently; it waits as a pending device request and gets in after
// `pincer devices approve`.
func TestRemoteNodeWaitsForDeviceApproval(t *testing.T) {
	oc := interopTest(t)
	bin := buildPincer(t)
	state := t.TempDir()
	writeConfig(t, state, `{gateway: {trustedProxies: ["127.0.0.1"]}}`)
	g := startPincerIn(t, state)
	u, _ := url.Parse(g.URL)
	proxy := forwardingProxy(t, u.Host, "10.9.8.7")
	host, port, _ := net.SplitHostPort(proxy)

	home := t.TempDir()
	out := &lockedBuffer{}
	// The same home keeps the node's device identity across runs.
	startNode := func() func() { return startOfficialNode(t, oc, home, host, port, g.Token, out) }
	stopNode := startNode()
	defer func() {
		stopNode()
		if t.Failed() {
			t.Logf("openclaw node run output:\n%s", tail(out.String(), 8000))
		}
	}()

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	admin, err := client.Dial(dctx, client.Options{URL: g.URL, Token: g.Token, Scopes: protocol.CLIDefaultScopes})
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var pending protocol.PendingDevice
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		var l protocol.DevicePairListResult
		if err := admin.Call(context.Background(), "device.pair.list", nil, &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Paired) != 0 {
			t.Fatalf("a remote node was paired without approval: %+v", l.Paired)
		}
		if len(l.Pending) == 1 {
			pending = l.Pending[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pending device request from the remote node host")
		}
	}
	if pending.RemoteIP != "10.9.8.7" || pending.Role != "node" || pending.ClientID != "node-host" {
		t.Fatalf("pending = %+v", pending)
	}
	stdout, stderr, code := runPincer(t, bin, "devices", "approve", pending.RequestID, "--url", g.URL, "--token", g.Token)
	if code != 0 {
		t.Fatalf("pincer devices approve: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// The official node host pauses its reconnects after a pairing refusal
	// ("waiting for operator action"); started again it gets in.
	stopNode()
	stopNode = startNode()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var nl protocol.NodeListResult
		if err := admin.Call(context.Background(), "node.list", nil, &nl); err != nil {
			t.Fatal(err)
		}
		if len(nl.Nodes) == 1 && nl.Nodes[0].Connected && nl.Nodes[0].RemoteIP == "10.9.8.7" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("approved node host did not connect: %+v", nl.Nodes)
		}
	}
}
