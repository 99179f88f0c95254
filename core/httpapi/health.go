// Package httpapi serves the gateway's HTTP surface: the health, readiness
// and startup probes (later also /v1/*, /hooks/*, /tools/invoke).
package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/pincerhq/pincer/core/gateway"
)

// Register adds the probe routes to the gateway's port.
func Register(srv *gateway.Server, version string) {
	live := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "status": "live"})
	}
	ready := func(w http.ResponseWriter, r *http.Request) {
		failing := []string{}
		code := http.StatusOK
		if !srv.Ready() {
			failing = append(failing, "gateway")
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ready": code == http.StatusOK, "failing": failing, "uptimeMs": srv.Uptime().Milliseconds()})
	}
	startup := func(w http.ResponseWriter, r *http.Request) {
		status, code := "started", http.StatusOK
		switch {
		case srv.Draining():
			status, code = "draining", http.StatusServiceUnavailable
		case !srv.Ready():
			status, code = "starting", http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ok": code == http.StatusOK, "status": status, "version": version, "uptimeMs": srv.Uptime().Milliseconds()})
	}
	srv.Handle("GET /health", http.HandlerFunc(live))
	srv.Handle("GET /healthz", http.HandlerFunc(live))
	srv.Handle("GET /ready", http.HandlerFunc(ready))
	srv.Handle("GET /readyz", http.HandlerFunc(ready))
	srv.Handle("GET /startupz", http.HandlerFunc(startup))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
