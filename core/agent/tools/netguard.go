package tools

import (
	"fmt"
	"net/netip"
)

// blockedRanges are destinations a model-chosen URL may not reach unless
// the operator allows private networks: they name the gateway host itself,
// its LAN, cloud metadata services and other non-public space.
var blockedRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified/this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (ULA)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// IPv6 prefixes that carry an IPv4 address the packet ends up at.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// blockedReason says why ip is not a public unicast address, or "" when it
// is one. IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4) are judged
// as the IPv4 address they reach.
func blockedReason(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64Prefix.Contains(ip):
			if why := blockedReason(netip.AddrFrom4([4]byte(b[12:16]))); why != "" {
				return why + " via NAT64"
			}
		case sixToFour.Contains(ip):
			if why := blockedReason(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
				return why + " via 6to4"
			}
		}
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return r.why
		}
	}
	return ""
}

// blockedAddrError is a refused connection; web_fetch reports it by name.
type blockedAddrError struct {
	addr netip.Addr
	why  string
}

func (e *blockedAddrError) Error() string {
	return fmt.Sprintf("refused to connect to %s (%s address): web_fetch only reaches public internet addresses", e.addr, e.why)
}
