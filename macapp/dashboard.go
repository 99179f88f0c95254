package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// browserOpener opens a URL in the desktop's browser; tests replace it.
// It returns errNoBrowser when there is no desktop to open one on.
var browserOpener = openInBrowser

var errNoBrowser = errors.New("no browser available")

func (a *app) dashboardCmd() *cobra.Command {
	var f clientFlags
	var noOpen bool
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Open the Control UI in a browser, signed in",
		Long: "Open the gateway's Control UI (with WebChat) in the default browser. The gateway token\n" +
			"travels in the URL fragment (#token=…), which browsers never send to a server; the UI\n" +
			"takes it out of the address bar at once and keeps it for that tab only.\n\n" +
			"Without a desktop browser (or with --no-open) the URL is printed instead: it signs in\n" +
			"whoever opens it, so do not share it.",
		Example: "  pincer dashboard\n  pincer dashboard --no-open",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := resolveTarget(a.profile, &f)
			if err != nil {
				return err
			}
			for _, w := range t.Warnings {
				fmt.Fprintf(a.stderr, "Warning: %s\n", w)
			}
			base, err := dashboardBase(t.URL)
			if err != nil {
				return usagef("%v", err)
			}
			secret := t.Token
			if secret == "" {
				// In password mode the gateway compares auth.token with the
				// password when auth.password is empty: the UI can send it.
				secret = t.Password
			}
			full := base
			if secret != "" {
				full += "#token=" + url.QueryEscape(secret)
			}
			if err := probeDashboard(cmd.Context(), base); err != nil {
				if errors.Is(err, errUIDisabled) {
					return err
				}
				fmt.Fprintf(a.stderr, "Warning: %v\n", err)
			}
			if secret == "" {
				fmt.Fprintln(a.stderr, "Note: no gateway token was found (--token, PINCER_GATEWAY_TOKEN, the config, or the generated token file);"+
					" the UI will ask for one.")
			}
			if !noOpen {
				switch err := browserOpener(full); {
				case err == nil:
					fmt.Fprintf(a.stdout, "Opened the Control UI: %s\n", base)
					return nil
				case !errors.Is(err, errNoBrowser):
					fmt.Fprintf(a.stderr, "Warning: could not open a browser: %v\n", err)
				}
			}
			if secret != "" {
				fmt.Fprintln(a.stdout, "Open this URL in a browser on this machine (it signs in with the gateway token; do not share it):")
			} else {
				fmt.Fprintln(a.stdout, "Open this URL in a browser on this machine:")
			}
			fmt.Fprintln(a.stdout, full)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.url, "url", "", "gateway `URL` (default: $PINCER_GATEWAY_URL, then http://127.0.0.1:<gateway.port>)")
	fs.StringVar(&f.token, "token", "", "gateway `TOKEN` (default: $PINCER_GATEWAY_TOKEN, config, then the generated token)")
	fs.BoolVar(&noOpen, "no-open", false, "print the URL instead of opening a browser")
	return cmd
}

// dashboardBase turns the gateway's WebSocket URL into the UI's address.
func dashboardBase(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("gateway URL %q is not ws:// or wss://", wsURL)
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment, u.User = "/", "", "", "", nil
	return u.String(), nil
}

var errUIDisabled = errors.New("the Control UI is disabled on this gateway (gateway.controlUi.enabled: false); set gateway.controlUi.enabled to true in the config")

// probeDashboard checks that a gateway answers at base and serves the UI.
func probeDashboard(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, base, nil)
	if err != nil {
		return err
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		return fmt.Errorf("no gateway answers at %s (start it with `pincer gateway run`); the page will connect once it runs", base)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return errUIDisabled
	}
	return nil
}

// openInBrowser hands the URL to the desktop (open on macOS, xdg-open on
// Linux and the BSDs when a display is set).
func openInBrowser(u string) error {
	var name string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		return errNoBrowser
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errNoBrowser
		}
		name = "xdg-open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return errNoBrowser
	}
	cmd := exec.Command(path, u)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if err := cmd.Start(); err != nil {
		return err
	}
	// xdg-open usually returns at once; some desktops keep it until the
	// browser exits. A quick failure is reported, a long run is success.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %s", name, strings.TrimSpace(err.Error()))
		}
		return nil
	case <-time.After(5 * time.Second):
		return nil
	}
}
