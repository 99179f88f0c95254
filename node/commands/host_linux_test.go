//go:build linux

package commands

import (
	"path/filepath"
	"testing"
)

func TestBatteryFromSysfs(t *testing.T) {
	root := t.TempDir()
	old := powerSupplyRoot
	powerSupplyRoot = root
	t.Cleanup(func() { powerSupplyRoot = old })

	if b := batteryStatus(); b != nil {
		t.Fatalf("empty power_supply: battery %v", b)
	}
	writeSys(t, filepath.Join(root, "AC"), map[string]string{"type": "Mains", "online": "1"})
	writeSys(t, filepath.Join(root, "hidpp_battery_0"), map[string]string{"type": "Battery", "scope": "Device", "capacity": "5", "status": "Discharging"})
	if b := batteryStatus(); b != nil {
		t.Fatalf("mains and a mouse battery only: battery %v", b)
	}
	writeSys(t, filepath.Join(root, "BAT0"), map[string]string{"type": "Battery", "present": "1", "capacity": "57", "status": "Discharging"})
	b := batteryStatus()
	if b == nil || b["level"] != 0.57 || b["state"] != "unplugged" || b["lowPowerModeEnabled"] != false {
		t.Fatalf("battery = %v", b)
	}
	for status, want := range map[string]string{"Charging": "charging", "Full": "full", "Not charging": "unplugged", "Unknown": "unknown"} {
		writeSys(t, filepath.Join(root, "BAT0"), map[string]string{"status": status})
		if got := batteryStatus()["state"]; got != want {
			t.Errorf("status %q: state %v, want %s", status, got, want)
		}
	}
}

func TestInterfaceKindFromSysfs(t *testing.T) {
	root := t.TempDir()
	old := netClassRoot
	netClassRoot = root
	t.Cleanup(func() { netClassRoot = old })

	writeSys(t, filepath.Join(root, "wlan0"), map[string]string{"type": "1"})
	writeSys(t, filepath.Join(root, "wlan0", "wireless"), nil)
	writeSys(t, filepath.Join(root, "eth0"), map[string]string{"type": "1"})
	writeSys(t, filepath.Join(root, "eth0", "device"), nil)
	writeSys(t, filepath.Join(root, "veth1"), map[string]string{"type": "1"})
	writeSys(t, filepath.Join(root, "tun0"), map[string]string{"type": "65534"})
	for name, want := range map[string]string{"wlan0": "wifi", "eth0": "wiredEthernet", "veth1": "other", "tun0": "other", "gone": "other"} {
		if got := interfaceKind(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}
