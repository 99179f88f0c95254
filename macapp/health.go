package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/protocol"
)

var readScopes = []string{protocol.ScopeRead}

func (a *app) healthCmd() *cobra.Command {
	return a.oneCallCmd(oneCall{
		use: "health", short: "Check that the gateway is up and healthy", scopes: readScopes, method: "health",
		render: func(s *session, payload json.RawMessage, rtt time.Duration) error {
			return printHealth(a.stdout, healthView{URL: s.target.URL, Hello: s.c.Hello(), Payload: payload, RoundTrip: rtt})
		},
	})
}

func (a *app) statusCmd() *cobra.Command {
	return a.oneCallCmd(oneCall{
		use: "status", short: "Show the gateway's runtime status", scopes: readScopes, method: "status",
		params: map[string]bool{"includeChannelSummary": false},
		render: func(s *session, payload json.RawMessage, _ time.Duration) error {
			return printStatus(a.stdout, s.target.URL, s.c.Hello(), payload)
		},
	})
}

// healthView is what the health summary is made of.
type healthView struct {
	URL       string
	Hello     *protocol.HelloOk
	Payload   json.RawMessage
	RoundTrip time.Duration
}

func printHealth(w io.Writer, v healthView) error {
	var h map[string]any
	if err := json.Unmarshal(v.Payload, &h); err != nil || h == nil {
		return fmt.Errorf("unexpected health result: %s", truncate(string(v.Payload), 200))
	}
	state := "OK"
	if ok, _ := h["ok"].(bool); !ok {
		state = "NOT OK"
	} else if deg, _ := lookup(h, "eventLoop", "degraded").(bool); deg {
		state = "DEGRADED"
	}
	fmt.Fprintf(w, "Gateway %s  %s\n", state, v.URL)

	var rows [][2]string
	if v.Hello != nil {
		if ver := v.Hello.Server.Version; ver != "" {
			rows = append(rows, [2]string{"Version", ver})
		}
		if up := v.Hello.Snapshot.UptimeMs; up > 0 {
			rows = append(rows, [2]string{"Uptime", formatDuration(time.Duration(up) * time.Millisecond)})
		}
	}
	rows = append(rows, [2]string{"Agents", healthAgents(h)})
	rows = append(rows, [2]string{"Channels", healthChannels(h)})
	if reasons, ok := lookup(h, "eventLoop", "reasons").([]any); ok && len(reasons) > 0 {
		rows = append(rows, [2]string{"Event loop", "degraded: " + joinAny(reasons)})
	}
	if deg, _ := lookup(h, "modelRuntime", "degraded").(bool); deg {
		rows = append(rows, [2]string{"Models", "waiting for a model runtime: " + joinAny(asSlice(lookup(h, "modelRuntime", "pendingAgents")))})
	}
	if errs := asSlice(lookup(h, "plugins", "errors")); len(errs) > 0 {
		var ids []string
		for _, e := range errs {
			if m, ok := e.(map[string]any); ok {
				ids = append(ids, fmt.Sprintf("%v: %v", m["id"], m["error"]))
			}
		}
		rows = append(rows, [2]string{"Plugin errors", strings.Join(ids, "; ")})
	}
	dur := ""
	if ms, ok := h["durationMs"].(float64); ok {
		dur = formatDuration(time.Duration(ms) * time.Millisecond)
	}
	if v.RoundTrip > 0 {
		rt := "round trip " + formatDuration(v.RoundTrip)
		if dur == "" {
			dur = rt
		} else {
			dur += " (" + rt + ")"
		}
	}
	if dur != "" {
		rows = append(rows, [2]string{"Duration", dur})
	}
	printRows(w, rows, "  ")
	return nil
}

func healthAgents(h map[string]any) string {
	agents := asSlice(h["agents"])
	if len(agents) == 0 {
		return "none"
	}
	var parts []string
	for _, a := range agents {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["agentId"].(string)
		var attrs []string
		if def, _ := m["isDefault"].(bool); def {
			attrs = append(attrs, "default")
		}
		if en, _ := lookup(m, "heartbeat", "enabled").(bool); en {
			if every, _ := lookup(m, "heartbeat", "every").(string); every != "" {
				attrs = append(attrs, "heartbeat "+every)
			}
		}
		if n, ok := lookup(m, "sessions", "count").(float64); ok {
			attrs = append(attrs, plural(int64(n), "session"))
		}
		if len(attrs) > 0 {
			id += " (" + strings.Join(attrs, ", ") + ")"
		}
		parts = append(parts, id)
	}
	return strings.Join(parts, ", ")
}

func healthChannels(h map[string]any) string {
	channels, _ := h["channels"].(map[string]any)
	if len(channels) == 0 {
		return "none"
	}
	labels, _ := h["channelLabels"].(map[string]any)
	order := make([]string, 0, len(channels))
	seen := map[string]bool{}
	for _, id := range asSlice(h["channelOrder"]) {
		if s, ok := id.(string); ok && channels[s] != nil && !seen[s] {
			order = append(order, s)
			seen[s] = true
		}
	}
	var rest []string
	for id := range channels {
		if !seen[id] {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	order = append(order, rest...)

	var parts []string
	for _, id := range order {
		name := id
		if l, ok := labels[id].(string); ok && l != "" {
			name = l
		}
		parts = append(parts, name+" ("+channelState(channels[id])+")")
	}
	return strings.Join(parts, ", ")
}

func channelState(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return "unknown"
	}
	if e, ok := m["lastError"].(string); ok && e != "" {
		return "error: " + truncate(e, 60)
	}
	for _, k := range []string{"connected", "running", "linked", "configured"} {
		if b, ok := m[k].(bool); ok {
			if b {
				return k
			}
			return "not " + k
		}
	}
	if s, ok := m["state"].(string); ok {
		return s
	}
	return "unknown"
}

func printStatus(w io.Writer, url string, hello *protocol.HelloOk, payload json.RawMessage) error {
	var st map[string]any
	if err := json.Unmarshal(payload, &st); err != nil || st == nil {
		return fmt.Errorf("unexpected status result: %s", truncate(string(payload), 200))
	}
	var rows [][2]string
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, [2]string{k, v})
		}
	}
	add("Gateway", url)
	ver, _ := st["runtimeVersion"].(string)
	if ver == "" && hello != nil {
		ver = hello.Server.Version
	}
	add("Version", ver)
	if pid, ok := st["pid"].(float64); ok && pid > 0 {
		add("PID", fmt.Sprint(int64(pid)))
	}
	if up, ok := st["uptimeMs"].(float64); ok {
		add("Uptime", formatDuration(time.Duration(up)*time.Millisecond))
	} else if hello != nil && hello.Snapshot.UptimeMs > 0 {
		add("Uptime", formatDuration(time.Duration(hello.Snapshot.UptimeMs)*time.Millisecond))
	}
	if n, ok := st["connections"].(float64); ok {
		add("Connections", fmt.Sprint(int64(n)))
	}
	if rss, ok := lookup(st, "processMemory", "rssBytes").(float64); ok {
		mem := formatBytes(int64(rss))
		if heap, ok := lookup(st, "processMemory", "heapUsedBytes").(float64); ok && heap > 0 {
			mem += " (heap " + formatBytes(int64(heap)) + ")"
		}
		add("Memory RSS", mem)
	}
	add("Heartbeat", statusHeartbeat(st))
	if n, ok := lookup(st, "sessions", "count").(float64); ok {
		add("Sessions", fmt.Sprint(int64(n)))
	}
	if total, ok := lookup(st, "tasks", "total").(float64); ok {
		active, _ := lookup(st, "tasks", "active").(float64)
		add("Tasks", fmt.Sprintf("%d active, %d total", int64(active), int64(total)))
	}
	if deg, _ := lookup(st, "eventLoop", "degraded").(bool); deg {
		add("Event loop", "degraded: "+joinAny(asSlice(lookup(st, "eventLoop", "reasons"))))
	} else if p99, ok := lookup(st, "eventLoop", "delayP99Ms").(float64); ok {
		add("Event loop", fmt.Sprintf("ok (p99 delay %.1fms)", p99))
	}
	if ev := asSlice(st["queuedSystemEvents"]); len(ev) > 0 {
		add("Queued events", fmt.Sprint(len(ev)))
	}
	if p, _ := st["configPath"].(string); p != "" {
		add("Config", p)
	}
	if p, _ := st["stateDir"].(string); p != "" {
		add("State dir", p)
	}
	printRows(w, rows, "")
	return nil
}

func statusHeartbeat(st map[string]any) string {
	agents := asSlice(lookup(st, "heartbeat", "agents"))
	if len(agents) == 0 {
		return ""
	}
	var parts []string
	for _, a := range agents {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["agentId"].(string)
		en, _ := m["enabled"].(bool)
		every, _ := m["every"].(string)
		switch {
		case !en:
			parts = append(parts, id+": off")
		case every != "":
			s := id + ": every " + every
			if w, _ := m["waitingForRoute"].(bool); w {
				s += " (waiting for a route)"
			}
			parts = append(parts, s)
		default:
			parts = append(parts, id+": on")
		}
	}
	return strings.Join(parts, ", ")
}
