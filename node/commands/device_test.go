package commands

import (
	"encoding/json"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestDeviceInfo(t *testing.T) {
	r := probe(t, Config{})
	out := mustCall(t, r, "device.info", nil)
	wantKeys(t, "device.info", out, "deviceName", "modelIdentifier", "systemName", "systemVersion", "appVersion", "appBuild", "locale")
	for k, v := range out {
		if s, ok := v.(string); !ok || s == "" {
			t.Errorf("device.info %s = %#v, want a non-empty string", k, v)
		}
	}
	if out["appVersion"] != Version {
		t.Errorf("appVersion = %v, want %s", out["appVersion"], Version)
	}
	if runtime.GOOS == "linux" && out["systemName"] != "Linux" {
		t.Errorf("systemName = %v", out["systemName"])
	}

	named := probe(t, Config{DisplayName: "Kitchen Pi"})
	if got := mustCall(t, named, "device.info", nil)["deviceName"]; got != "Kitchen Pi" {
		t.Errorf("deviceName = %v, want the configured display name", got)
	}
	wantErr(t, r, "device.info", `[1]`, CodeInvalidRequest)
}

func TestHostLocale(t *testing.T) {
	for _, tc := range []struct{ lcAll, lang, want string }{
		{"", "de_DE.UTF-8", "de-DE"},
		{"fr_CA.UTF-8@euro", "de_DE.UTF-8", "fr-CA"},
		{"", "C.UTF-8", "en-US"},
		{"", "", "en-US"},
	} {
		t.Setenv("LC_ALL", tc.lcAll)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", tc.lang)
		if got := hostLocale(); got != tc.want {
			t.Errorf("LC_ALL=%q LANG=%q: locale %q, want %q", tc.lcAll, tc.lang, got, tc.want)
		}
	}
}

func TestDeviceStatus(t *testing.T) {
	r := probe(t, Config{})
	out := mustCall(t, r, "device.status", nil)
	wantKeys(t, "device.status", out, "battery", "thermal", "storage", "network", "uptimeSeconds")

	if b := out["battery"]; b != nil {
		bm, ok := b.(map[string]any)
		if !ok {
			t.Fatalf("battery = %#v, want an object or null", b)
		}
		if !slices.Contains([]string{"charging", "unplugged", "full", "unknown"}, bm["state"].(string)) || bm["lowPowerModeEnabled"] != false {
			t.Errorf("battery = %v", bm)
		}
		if lvl, ok := bm["level"].(float64); ok && (lvl < 0 || lvl > 1) {
			t.Errorf("battery level %v outside 0..1", lvl)
		}
	}
	if th := out["thermal"].(map[string]any); th["state"] != "nominal" {
		t.Errorf("thermal = %v", th)
	}

	st := out["storage"].(map[string]any)
	wantKeys(t, "storage", st, "totalBytes", "freeBytes", "usedBytes")
	total, free, used := st["totalBytes"].(float64), st["freeBytes"].(float64), st["usedBytes"].(float64)
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		if total <= 0 || free < 0 || used < 0 || free > total || used > total {
			t.Errorf("storage = %v", st)
		}
	}

	nw := out["network"].(map[string]any)
	wantKeys(t, "network", nw, "status", "isExpensive", "isConstrained", "interfaces")
	ifs, ok := nw["interfaces"].([]any)
	if !ok {
		t.Fatalf("interfaces = %#v, want an array", nw["interfaces"])
	}
	for _, i := range ifs {
		if !slices.Contains([]string{"wifi", "wiredEthernet", "other"}, i.(string)) {
			t.Errorf("interface kind %v", i)
		}
	}
	if want := map[bool]string{true: "satisfied", false: "unsatisfied"}[len(ifs) > 0]; nw["status"] != want {
		t.Errorf("network status %v with interfaces %v", nw["status"], ifs)
	}

	if runtime.GOOS == "linux" {
		if up, ok := out["uptimeSeconds"].(float64); !ok || up <= 0 {
			t.Errorf("uptimeSeconds = %v", out["uptimeSeconds"])
		}
	}
}

func TestHostStats(t *testing.T) {
	s := HostStats()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "HostStats", m, "cpuCount", "loadAverage", "memoryTotalBytes", "memoryFreeBytes", "diskTotalBytes", "diskAvailableBytes")
	if n := m["cpuCount"].(float64); n < 1 || n != math.Trunc(n) {
		t.Errorf("cpuCount = %v", n)
	}
	load := m["loadAverage"].([]any)
	if len(load) != 3 {
		t.Fatalf("loadAverage = %v", load)
	}
	for _, l := range load {
		if v := l.(float64); v < 0 || math.IsNaN(v) {
			t.Errorf("loadAverage = %v", load)
		}
	}
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		memTotal, memFree := m["memoryTotalBytes"].(float64), m["memoryFreeBytes"].(float64)
		if memTotal < 1<<20 || memFree <= 0 || memFree > memTotal {
			t.Errorf("memory total %v free %v", memTotal, memFree)
		}
		diskTotal, diskAvail := m["diskTotalBytes"].(float64), m["diskAvailableBytes"].(float64)
		if diskTotal <= 0 || diskAvail < 0 || diskAvail > diskTotal {
			t.Errorf("disk total %v available %v", diskTotal, diskAvail)
		}
	}
}

func TestLocationUnconfigured(t *testing.T) {
	r := probe(t, Config{})
	if !hasCommand(r, "location.get") || slices.Contains(r.Caps(), "location") {
		t.Fatalf("commands %v caps %v: want location.get declared without the location cap", r.Commands(), r.Caps())
	}
	e := wantErr(t, r, "location.get", nil, CodeLocationUnavailable)
	if e.Message != "no location configured on this node (set node.location in the node config)" {
		t.Fatalf("message = %q", e.Message)
	}
	// Out-of-range positions count as unconfigured.
	bad := probe(t, Config{Location: &StaticLocation{Lat: 123, Lon: 0}})
	if slices.Contains(bad.Caps(), "location") {
		t.Fatal("invalid location declared the location cap")
	}
	wantErr(t, bad, "location.get", nil, CodeLocationUnavailable)
}

func TestLocationConfigured(t *testing.T) {
	loc := &StaticLocation{Lat: 52.52, Lon: 13.405, AccuracyMeters: 25, Label: "office"}
	r := probe(t, Config{Location: loc})
	if !slices.Contains(r.Caps(), "location") {
		t.Fatalf("caps %v lack location", r.Caps())
	}
	loc.Lat = 0 // Probe keeps its own copy
	before := time.Now().Add(-time.Second)
	out := mustCall(t, r, "location.get", map[string]any{"timeoutMs": 5000, "maxAgeMs": 0, "desiredAccuracy": "precise"})
	wantKeys(t, "location.get", out, "lat", "lon", "accuracyMeters", "timestamp", "isPrecise", "source")
	if out["lat"] != 52.52 || out["lon"] != 13.405 || out["accuracyMeters"] != 25.0 || out["isPrecise"] != false || out["source"] != "unknown" {
		t.Fatalf("payload = %v", out)
	}
	ts, err := time.Parse(time.RFC3339, out["timestamp"].(string))
	if err != nil || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
		t.Fatalf("timestamp %v: %v", out["timestamp"], err)
	}

	wantErr(t, r, "location.get", map[string]any{"desiredAccuracy": "exact"}, CodeInvalidRequest)
	wantErr(t, r, "location.get", map[string]any{"timeoutMs": -5}, CodeInvalidRequest)
	wantErr(t, r, "location.get", map[string]any{"maxAgeMs": "old"}, CodeInvalidRequest)

	// No accuracy configured: reported as a coarse 1 km.
	coarse := probe(t, Config{Location: &StaticLocation{Lat: -33.9, Lon: 151.2}})
	if got := mustCall(t, coarse, "location.get", nil)["accuracyMeters"]; got != float64(defaultLocationAccuracy) {
		t.Fatalf("default accuracy = %v", got)
	}
}
