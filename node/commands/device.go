package commands

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

// systemNames maps GOOS to device.info's systemName.
var systemNames = map[string]string{
	"linux":   "Linux",
	"darwin":  "macOS",
	"windows": "Windows",
	"freebsd": "FreeBSD",
	"openbsd": "OpenBSD",
	"netbsd":  "NetBSD",
	"android": "Android",
	"ios":     "iOS",
}

// readTrim reads a small text file (sysfs, procfs), trimming whitespace and
// NULs; "" when it cannot be read.
func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.TrimRight(string(b), "\x00"))
}

func systemName() string {
	if n, ok := systemNames[runtime.GOOS]; ok {
		return n
	}
	return runtime.GOOS
}

// appBuild is the VCS revision the binary was built from, else Version.
func appBuild() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value[:min(12, len(s.Value))]
			}
		}
	}
	return Version
}

// hostLocale derives a BCP 47 tag from the POSIX locale environment
// ("de_DE.UTF-8" → "de-DE"); C/POSIX or nothing yields "en-US".
func hostLocale() string {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		v, _, _ = strings.Cut(v, ".")
		v, _, _ = strings.Cut(v, "@")
		if v == "C" || v == "POSIX" || v == "" {
			return "en-US"
		}
		return strings.ReplaceAll(v, "_", "-")
	}
	return "en-US"
}

func (r *Registry) deviceName() string {
	if r.cfg.DisplayName != "" {
		return r.cfg.DisplayName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "pincer-node"
}

func (r *Registry) deviceInfo(_ context.Context, raw json.RawMessage) (any, error) {
	var p struct{}
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	model := modelIdentifier()
	if model == "" {
		model = runtime.GOOS + "-" + runtime.GOARCH
	}
	return map[string]any{
		"deviceName":      r.deviceName(),
		"modelIdentifier": model,
		"systemName":      systemName(),
		"systemVersion":   osVersion(),
		"appVersion":      Version,
		"appBuild":        appBuild(),
		"locale":          hostLocale(),
	}, nil
}

// storagePath is the filesystem device.status and HostStats report on: the
// home directory's, where a node keeps its state, else the root.
func storagePath() string {
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		if _, serr := os.Stat(h); serr == nil {
			return h
		}
	}
	if runtime.GOOS == "windows" {
		return `C:\`
	}
	return "/"
}

// networkStatus summarises the interfaces that are up, not loopback and
// have an address that is not link-local.
func networkStatus() map[string]any {
	kinds := map[string]bool{}
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		usable := false
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip := ipn.IP; !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified() {
				usable = true
				break
			}
		}
		if usable {
			kinds[interfaceKind(ifc.Name)] = true
		}
	}
	list := make([]string, 0, len(kinds))
	for k := range kinds {
		list = append(list, k)
	}
	sort.Strings(list)
	status := "unsatisfied"
	if len(list) > 0 {
		status = "satisfied"
	}
	return map[string]any{
		"status":        status,
		"isExpensive":   false,
		"isConstrained": false,
		"interfaces":    list,
	}
}

func (r *Registry) deviceStatus(_ context.Context, raw json.RawMessage) (any, error) {
	var p struct{}
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	var battery any // JSON null when the host has no battery
	if b := batteryStatus(); b != nil {
		battery = b
	}
	storage := map[string]any{"totalBytes": 0, "freeBytes": 0, "usedBytes": 0}
	if d, ok := diskUsage(storagePath()); ok {
		storage = map[string]any{"totalBytes": d.total, "freeBytes": d.avail, "usedBytes": d.used}
	}
	var uptime any
	if u, ok := uptimeSeconds(); ok {
		uptime = u
	}
	return map[string]any{
		"battery":       battery,
		"thermal":       map[string]any{"state": "nominal"},
		"storage":       storage,
		"network":       networkStatus(),
		"uptimeSeconds": uptime,
	}, nil
}

// HostStats reports the node.host.stats figures: cpuCount, loadAverage
// ([1, 5, 15] minutes), memoryTotalBytes, memoryFreeBytes (available
// memory), diskTotalBytes and diskAvailableBytes (of the home directory's
// filesystem). Figures a platform cannot supply are 0.
func HostStats() map[string]any {
	load, _ := loadAverage()
	memTotal, memFree, _ := memoryStats()
	d, _ := diskUsage(storagePath())
	return map[string]any{
		"cpuCount":           runtime.NumCPU(),
		"loadAverage":        []float64{load[0], load[1], load[2]},
		"memoryTotalBytes":   memTotal,
		"memoryFreeBytes":    memFree,
		"diskTotalBytes":     d.total,
		"diskAvailableBytes": d.avail,
	}
}

// disk is one filesystem's size in bytes.
type disk struct{ total, avail, used uint64 }

func (r *Registry) addDevice() {
	r.add(true,
		Command{Name: "device.info", Cap: "device", Handler: r.deviceInfo},
		Command{Name: "device.status", Cap: "device", Handler: r.deviceStatus},
	)
}
