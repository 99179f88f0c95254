// Package daemontest runs a real gateway (core/daemon) on a random loopback
// port with a fresh state directory, for over-the-wire tests of the domain
// packages.
package daemontest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
)

// Gateway is a running test gateway.
type Gateway struct {
	URL, HTTP, Token, State string
	stop                    func() error
}

// Start runs a gateway with the given JSON5 config ("" for none). The
// gateway stops at the end of the test.
func Start(t testing.TB, opt daemon.Options, config string) *Gateway {
	t.Helper()
	return StartIn(t, t.TempDir(), opt, config)
}

// StartIn runs a gateway on an existing state dir (to test restarts).
func StartIn(t testing.TB, state string, opt daemon.Options, config string) *Gateway {
	t.Helper()
	t.Setenv("PINCER_STATE_DIR", state)
	t.Setenv("PINCER_CONFIG_PATH", "")
	t.Setenv("PINCER_GATEWAY_TOKEN", "")
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "")
	if config != "" {
		if err := os.WriteFile(filepath.Join(state, "pincer.json"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opt.Listener = ln
	ready := make(chan string, 1)
	opt.Ready = func(u string) { ready <- u }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, opt) }()
	g := &Gateway{State: state}
	select {
	case g.URL = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("gateway did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("gateway start timed out")
	}
	g.HTTP = "http://" + strings.TrimPrefix(g.URL, "ws://")
	g.Token = opt.Token
	if g.Token == "" {
		if b, err := os.ReadFile(filepath.Join(state, "credentials", "gateway-token")); err == nil {
			g.Token = strings.TrimSpace(string(b))
		}
	}
	var stopped bool
	g.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return errors.New("gateway did not stop")
		}
	}
	t.Cleanup(func() { _ = g.stop() })
	return g
}

// Stop shuts the gateway down.
func (g *Gateway) Stop() error { return g.stop() }

// Options are client options for this gateway with its token.
func (g *Gateway) Options(scopes ...string) client.Options {
	return client.Options{URL: g.URL, Token: g.Token, Scopes: scopes}
}

// Dial connects as the local CLI with the given scopes.
func (g *Gateway) Dial(t testing.TB, scopes ...string) *client.Client {
	t.Helper()
	return g.DialWith(t, g.Options(scopes...))
}

// DialWith connects with explicit options; the client closes at test end.
func (g *Gateway) DialWith(t testing.TB, opt client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, opt)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Call calls a method and fails the test on error.
func Call(t testing.TB, c *client.Client, method string, params any, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Call(ctx, method, params, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}
