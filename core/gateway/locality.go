package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
)

type attribution struct {
	clientIP    string
	local       bool
	rejectProxy bool
	scopeCap    []string
}

var proxyHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Real-Ip"}

func hasProxyEvidence(h http.Header) bool {
	for _, k := range proxyHeaders {
		if h.Get(k) != "" {
			return true
		}
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-forwarded-") {
			return true
		}
	}
	return false
}

func parseTrustedProxies(list []string, log *slog.Logger) []*net.IPNet {
	var out []*net.IPNet
	for _, p := range list {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			if ip := net.ParseIP(p); ip != nil {
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
				continue
			}
		}
		if _, n, err := net.ParseCIDR(p); err == nil {
			out = append(out, n)
		} else {
			log.Warn("ignoring invalid gateway.trustedProxies entry", "value", p)
		}
	}
	return out
}

func (s *Server) trusted(ip net.IP) bool {
	for _, n := range s.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// attribute decides who is connecting: a loopback socket with proxy headers
// and no trusted proxies is refused, because trusting it would let anything
// behind a local reverse proxy pass as local and be auto-paired.
func (s *Server) attribute(r *http.Request) attribution {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer := net.ParseIP(host)
	a := attribution{clientIP: host}
	if v := r.Header.Get("X-Openclaw-Scopes"); v != "" {
		for _, sc := range strings.Split(v, ",") {
			if sc = strings.TrimSpace(sc); sc != "" {
				a.scopeCap = append(a.scopeCap, sc)
			}
		}
		if a.scopeCap == nil {
			a.scopeCap = []string{}
		}
	}
	evidence := hasProxyEvidence(r.Header)
	loop := peer != nil && peer.IsLoopback()
	switch {
	case evidence && peer != nil && s.trusted(peer):
		a.clientIP = forwardedClient(r.Header, s)
		if a.clientIP == "" {
			a.clientIP = host
		}
	case evidence && loop:
		a.rejectProxy = true
	default:
		a.local = loop && !evidence
	}
	return a
}

// forwardedClient walks X-Forwarded-For from the right, skipping trusted
// proxies; X-Real-IP is the fallback.
func forwardedClient(h http.Header, s *Server) string {
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		parts := strings.Split(strings.Join(xff, ","), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			p := strings.TrimSpace(parts[i])
			ip := net.ParseIP(p)
			if ip == nil {
				continue
			}
			if !s.trusted(ip) {
				return ip.String()
			}
			if i == 0 {
				return ip.String()
			}
		}
	}
	if v := strings.TrimSpace(h.Get("X-Real-Ip")); net.ParseIP(v) != nil {
		return v
	}
	return ""
}

func isLoopbackIP(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.IsLoopback()
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header.Get("Connection"), "upgrade")
}

func headerHasToken(v, token string) bool {
	for _, p := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(p), token) {
			return true
		}
	}
	return false
}
