//go:build linux

package commands

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// loadAverage reads /proc/loadavg.
func loadAverage() ([3]float64, bool) {
	var out [3]float64
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return out, false
	}
	for i := range 3 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return [3]float64{}, false
		}
		out[i] = v
	}
	return out, true
}

// memoryStats reads MemTotal and MemAvailable (MemFree on old kernels).
func memoryStats() (total, free uint64, ok bool) {
	fh, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0, false
	}
	defer fh.Close()
	vals := map[string]uint64{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		vals[k] = n
	}
	total, ok = vals["MemTotal"]
	if !ok {
		return 0, 0, false
	}
	free, found := vals["MemAvailable"]
	if !found {
		free = vals["MemFree"]
	}
	return total, free, true
}

// uptimeSeconds reads /proc/uptime.
func uptimeSeconds() (float64, bool) {
	f := strings.Fields(readTrim("/proc/uptime"))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

// osVersion is the kernel release.
func osVersion() string {
	if v := readTrim("/proc/sys/kernel/osrelease"); v != "" {
		return v
	}
	return "unknown"
}

// placeholderModels are DMI product names firmware vendors leave unset.
var placeholderModels = map[string]bool{
	"to be filled by o.e.m.": true, "system product name": true, "default string": true,
	"not applicable": true, "none": true, "unknown": true,
}

// modelIdentifier reads the DMI product name (PCs) or the device-tree model
// (ARM boards); "" when neither says anything useful.
func modelIdentifier() string {
	for _, p := range []string{"/sys/devices/virtual/dmi/id/product_name", "/proc/device-tree/model"} {
		if v := readTrim(p); v != "" && !placeholderModels[strings.ToLower(v)] {
			return v
		}
	}
	return ""
}

// powerSupplyRoot is where batteryStatus looks; tests may point it elsewhere.
var powerSupplyRoot = "/sys/class/power_supply"

// batteryStatus reads the first system battery under powerSupplyRoot; nil
// when there is none.
func batteryStatus() map[string]any {
	entries, err := os.ReadDir(powerSupplyRoot)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		dir := filepath.Join(powerSupplyRoot, n)
		if readTrim(filepath.Join(dir, "type")) != "Battery" {
			continue
		}
		if readTrim(filepath.Join(dir, "scope")) == "Device" { // a mouse or headset
			continue
		}
		if readTrim(filepath.Join(dir, "present")) == "0" {
			continue
		}
		out := map[string]any{"lowPowerModeEnabled": false}
		if c, err := strconv.Atoi(readTrim(filepath.Join(dir, "capacity"))); err == nil && c >= 0 {
			out["level"] = float64(min(c, 100)) / 100
		}
		switch readTrim(filepath.Join(dir, "status")) {
		case "Charging":
			out["state"] = "charging"
		case "Discharging", "Not charging":
			out["state"] = "unplugged"
		case "Full":
			out["state"] = "full"
		default:
			out["state"] = "unknown"
		}
		return out
	}
	return nil
}

// netClassRoot is where interfaceKind looks.
var netClassRoot = "/sys/class/net"

// interfaceKind classifies a network interface from sysfs.
func interfaceKind(name string) string {
	dir := filepath.Join(netClassRoot, name)
	for _, marker := range []string{"wireless", "phy80211"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return "wifi"
		}
	}
	if readTrim(filepath.Join(dir, "type")) == "1" { // ARPHRD_ETHER
		if _, err := os.Stat(filepath.Join(dir, "device")); err == nil {
			return "wiredEthernet"
		}
	}
	return "other"
}
