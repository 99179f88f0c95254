//go:build darwin

package commands

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// sysctlRaw returns a binary sysctl value padded to n bytes (syscall.Sysctl
// drops one trailing NUL, which for integers is a zero byte).
func sysctlRaw(name string, n int) ([]byte, bool) {
	s, err := syscall.Sysctl(name)
	if err != nil {
		return nil, false
	}
	b := []byte(s)
	if len(b) > n {
		return nil, false
	}
	for len(b) < n {
		b = append(b, 0)
	}
	return b, true
}

// loadAverage decodes vm.loadavg: struct loadavg { uint32 ldavg[3]; long fscale }.
func loadAverage() ([3]float64, bool) {
	b, ok := sysctlRaw("vm.loadavg", 24)
	if !ok {
		return [3]float64{}, false
	}
	scale := float64(binary.LittleEndian.Uint64(b[16:24]))
	if scale == 0 {
		return [3]float64{}, false
	}
	var out [3]float64
	for i := range 3 {
		out[i] = float64(binary.LittleEndian.Uint32(b[i*4:])) / scale
	}
	return out, true
}

// memoryStats reads hw.memsize and the free page count.
func memoryStats() (total, free uint64, ok bool) {
	b, ok := sysctlRaw("hw.memsize", 8)
	if !ok {
		return 0, 0, false
	}
	total = binary.LittleEndian.Uint64(b)
	if pages, err := syscall.SysctlUint32("vm.page_free_count"); err == nil {
		free = uint64(pages) * uint64(os.Getpagesize())
	}
	return total, free, true
}

// uptimeSeconds derives uptime from kern.boottime (struct timeval).
func uptimeSeconds() (float64, bool) {
	b, ok := sysctlRaw("kern.boottime", 16)
	if !ok {
		return 0, false
	}
	sec := int64(binary.LittleEndian.Uint64(b[0:8]))
	usec := int64(binary.LittleEndian.Uint32(b[8:12]))
	boot := time.Unix(sec, usec*1000)
	return time.Since(boot).Seconds(), true
}

// osVersion is the macOS product version ("14.2").
func osVersion() string {
	if v, err := syscall.Sysctl("kern.osproductversion"); err == nil && v != "" {
		return v
	}
	if v, err := syscall.Sysctl("kern.osrelease"); err == nil && v != "" {
		return v
	}
	return "unknown"
}

// modelIdentifier is hw.model ("MacBookPro18,3").
func modelIdentifier() string {
	v, _ := syscall.Sysctl("hw.model")
	return v
}

var pmsetBattery = regexp.MustCompile(`(\d+)%;\s*([^;]+);`)

// batteryStatus parses `pmset -g batt`; nil without an internal battery.
func batteryStatus() map[string]any {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "pmset", "-g", "batt").Output()
	if err != nil {
		return nil
	}
	m := pmsetBattery.FindSubmatch(out)
	if m == nil {
		return nil
	}
	res := map[string]any{"lowPowerModeEnabled": false, "state": "unknown"}
	if c, err := strconv.Atoi(string(m[1])); err == nil {
		res["level"] = float64(min(c, 100)) / 100
	}
	switch string(m[2]) {
	case "charging":
		res["state"] = "charging"
	case "discharging":
		res["state"] = "unplugged"
	case "charged", "finishing charge":
		res["state"] = "full"
	}
	return res
}

// interfaceKind cannot tell Wi-Fi from Ethernet without SystemConfiguration.
func interfaceKind(string) string { return "other" }
