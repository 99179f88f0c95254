package daemon

import (
	"net"
	"strconv"

	"github.com/pincerhq/pincer/core/config"
)

// setupCodeURL is the address a setup code sends a device to: the gateway's
// LAN address when it listens beyond loopback, else "" (a phone cannot
// reach a loopback-only gateway; callers then pass publicUrl).
func setupCodeURL(c *config.Config, addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return ""
	}
	port := strconv.Itoa(tcp.Port)
	if !tcp.IP.IsUnspecified() {
		return "ws://" + net.JoinHostPort(tcp.IP.String(), port)
	}
	ifaces, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range ifaces {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil && !ipn.IP.IsLinkLocalUnicast() {
			return "ws://" + net.JoinHostPort(ipn.IP.String(), port)
		}
	}
	_ = c
	return ""
}
