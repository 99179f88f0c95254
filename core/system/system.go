// Package system registers the gateway's own methods: health, status,
// system-presence, system-event and logs.tail. It builds the health
// snapshot the gateway caches and broadcasts.
package system

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/cron"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/logging"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/store"
)

// Deps are what the system methods read.
type Deps struct {
	Server    *gateway.Server
	Config    func() *config.Config
	Paths     config.Paths
	Store     *store.DB
	Heartbeat *cron.Heartbeat
	LogPath   string
	// Loaded names the compiled-in domains reported as plugins.
	Loaded []string
	// ChannelsHealth contributes the channels part of health (nil: none).
	ChannelsHealth func() (channels map[string]any, order []string, labels map[string]string)
}

// System implements the methods.
type System struct {
	d    Deps
	loop *loopSampler
}

// New creates the system domain and starts its scheduler-latency sampler.
func New(d Deps) *System {
	return &System{d: d, loop: newLoopSampler()}
}

// Close stops the sampler.
func (s *System) Close() { s.loop.stop() }

// Register adds the methods and installs the health source.
func (s *System) Register(srv *gateway.Server) {
	srv.SetHealthSource(s.buildHealth)
	srv.Register(gateway.Method{Name: "health", Role: gateway.RoleAny, Handler: s.health})
	srv.Register(gateway.Method{Name: "status", Scope: protocol.ScopeRead, Handler: s.status})
	srv.Register(gateway.Method{Name: "system-presence", Scope: protocol.ScopeRead, Handler: s.presence})
	srv.Register(gateway.Method{Name: "system-event", Scope: protocol.ScopeAdmin, Idempotent: true, Handler: s.systemEvent})
	srv.Register(gateway.Method{Name: "logs.tail", Scope: protocol.ScopeRead, Handler: s.logsTail})
}

func (s *System) health(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.HealthParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	probe := p.Probe != nil && *p.Probe
	var raw json.RawMessage
	var err error
	if probe {
		raw, err = s.d.Server.RefreshHealth(ctx, true)
	} else {
		raw, err = s.d.Server.HealthWithin(ctx, s.d.Server.Options().HealthRefresh)
	}
	if err != nil {
		return nil, protocol.Unavailable("health check failed: "+err.Error(), 1000)
	}
	return raw, nil
}

func (s *System) heartbeatInfo(cfg *config.Config) (protocol.HeartbeatConfig, int64) {
	hb := cfg.Agents.Defaults.Heartbeat
	every := hb.Every
	if every == "" {
		every = config.DefaultHeartbeatEvery
	}
	var everyMs *int64
	secs := int64(0)
	if d, err := time.ParseDuration(every); err == nil && d > 0 {
		ms := d.Milliseconds()
		everyMs = &ms
		secs = int64(d.Seconds())
	}
	enabled := s.d.Heartbeat == nil || s.d.Heartbeat.Enabled()
	return protocol.HeartbeatConfig{
		Enabled: enabled && everyMs != nil, Every: every, EveryMs: everyMs, Prompt: HeartbeatPrompt(cfg),
		Target: hb.Target, AckMaxChars: int64(hb.AckMaxChars),
	}, secs
}

// HeartbeatPrompt is the configured heartbeat prompt or the default one.
func HeartbeatPrompt(cfg *config.Config) string {
	if p := strings.TrimSpace(cfg.Agents.Defaults.Heartbeat.Prompt); p != "" {
		return p
	}
	return "Read HEARTBEAT.md if it exists and follow it. Do not infer or repeat old tasks from prior chats. If nothing needs attention, reply HEARTBEAT_OK."
}

func agentIDs(cfg *config.Config) []string {
	ids := make([]string, 0, len(cfg.Agents.Entries))
	for id := range cfg.Agents.Entries {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i] == config.MainAgentID {
			return true
		}
		if ids[j] == config.MainAgentID {
			return false
		}
		return ids[i] < ids[j]
	})
	return ids
}

func (s *System) buildHealth(ctx context.Context, probe bool) (any, error) {
	start := time.Now()
	cfg := s.d.Config()
	hb, secs := s.heartbeatInfo(cfg)
	h := protocol.HealthSnapshot{
		OK: true, Ts: start.UnixMilli(),
		EventLoop:     s.loop.snapshot(),
		Plugins:       &protocol.PluginsHealth{Loaded: append([]string{}, s.d.Loaded...), Errors: []protocol.PluginError{}, Unavailable: []any{}},
		Channels:      map[string]any{},
		ChannelOrder:  []string{},
		ChannelLabels: map[string]string{},
		HeartbeatSecs: secs, DefaultAgentID: config.MainAgentID,
	}
	if s.d.ChannelsHealth != nil {
		h.Channels, h.ChannelOrder, h.ChannelLabels = s.d.ChannelsHealth()
	}
	sessions := protocol.SessionsHealth{Path: s.d.Paths.DBPath(), Recent: []protocol.RecentSession{}}
	for _, id := range agentIDs(cfg) {
		e := cfg.Agents.Entries[id]
		h.Agents = append(h.Agents, protocol.AgentHealth{
			AgentID: id, Name: e.Name, IsDefault: id == config.MainAgentID, Heartbeat: hb, Sessions: sessions,
		})
	}
	h.Sessions = &sessions
	if probe && s.d.Store != nil {
		if err := s.d.Store.PingContext(ctx); err != nil {
			return nil, fmt.Errorf("state database %s: %w", s.d.Store.Path, err)
		}
	}
	h.DurationMs = time.Since(start).Milliseconds()
	return h, nil
}

func (s *System) status(ctx context.Context, call *gateway.Call) (any, error) {
	cfg := s.d.Config()
	hb, _ := s.heartbeatInfo(cfg)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var p protocol.StatusParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	admin := call.Conn.HasScope(protocol.ScopeAdmin)
	sessionsPath := "[redacted]"
	if admin {
		sessionsPath = s.d.Paths.DBPath()
	}
	r := protocol.StatusResult{
		RuntimeVersion: s.d.Server.Options().Version,
		HostDesktop:    protocol.HostDesktopStatus{State: "disabled", Port: 5900},
		ChannelSummary: []any{}, QueuedSystemEvents: []string{},
		DegradedSecretOwners: []any{}, DegradedPlugins: []any{},
		Tasks: protocol.TasksStatus{
			ByStatus:  map[string]int{"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "timed_out": 0, "cancelled": 0, "lost": 0},
			ByRuntime: map[string]int{"subagent": 0, "acp": 0, "cli": 0, "cron": 0},
		},
		Sessions: protocol.SessionsStatus{
			Paths: []string{}, Recent: []protocol.RecentSession{},
		},
		TaskAudit: protocol.TaskAudit{ByCode: map[string]int{
			"stale_queued": 0, "stale_running": 0, "lost": 0, "delivery_failed": 0, "missing_cleanup": 0, "inconsistent_timestamps": 0,
		}},
		ModelRuntime: protocol.ModelRuntimeHealth{PendingAgents: []string{}},
		EventLoop:    s.loop.snapshot(),
		WorkerPools:  map[string]any{},
		ProcessMemory: protocol.ProcessMemory{
			RSSBytes: rssBytes(), HeapUsedBytes: int64(ms.HeapAlloc), HeapTotalBytes: int64(ms.HeapSys),
			Goroutines: runtime.NumGoroutine(),
		},
		PID:            os.Getpid(),
		ShutdownBudget: protocol.ShutdownBudget{TimeoutMs: 30000, ReserveMs: 5000},
	}
	r.Heartbeat.DefaultAgentID = config.MainAgentID
	for _, id := range agentIDs(cfg) {
		r.Heartbeat.Agents = append(r.Heartbeat.Agents, protocol.HeartbeatAgentInfo{
			// No channel route exists yet for heartbeat replies to go to.
			AgentID: id, Enabled: hb.Enabled, Every: hb.Every, EveryMs: hb.EveryMs, WaitingForRoute: true,
		})
		r.Sessions.ByAgent = append(r.Sessions.ByAgent, protocol.AgentSessions{AgentID: id, Path: sessionsPath, Recent: []protocol.RecentSession{}})
	}
	if p.IncludeCliProjection != nil && *p.IncludeCliProjection {
		proj := &protocol.CliProjection{
			Agents:       protocol.CliAgents{DefaultID: config.MainAgentID, Ownership: "sole", Rows: []protocol.CliAgent{}},
			MemoryPlugin: protocol.CliMemoryPlugin{Slot: "none"},
		}
		for _, id := range agentIDs(cfg) {
			proj.Agents.Rows = append(proj.Agents.Rows, protocol.CliAgent{ID: id, Name: cfg.Agents.Entries[id].Name})
		}
		r.CliProjection = proj
	}
	if s.d.Heartbeat != nil {
		r.QueuedSystemEvents = s.d.Heartbeat.Queued()
	}
	return r, nil
}

func (s *System) presence(ctx context.Context, call *gateway.Call) (any, error) {
	list, _ := s.d.Server.Presence()
	return list, nil
}

func (s *System) systemEvent(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.SystemEventParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	text := strings.TrimSpace(p.Text)
	if text == "" {
		return nil, protocol.InvalidParams("system-event", "text must not be empty")
	}
	sessionKey := ""
	if p.SessionKey != nil {
		sessionKey = *p.SessionKey
	}
	if s.d.Heartbeat != nil {
		if err := s.d.Heartbeat.Enqueue(text, sessionKey); err != nil {
			return nil, protocol.Unavailable("queueing system event failed: "+err.Error(), 0)
		}
		if p.Wake != nil && *p.Wake {
			s.d.Heartbeat.Wake("system-event")
		}
	}
	e := protocol.PresenceEntry{Text: text, Ts: time.Now().UnixMilli(), Tags: p.Tags, Roles: p.Roles, Scopes: p.Scopes}
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	e.Host, e.IP, e.Mode, e.Version = str(p.Host), str(p.IP), str(p.Mode), str(p.Version)
	e.Platform, e.DeviceFamily, e.ModelIdentifier = str(p.Platform), str(p.DeviceFamily), str(p.ModelIdentifier)
	e.Reason, e.DeviceID, e.InstanceID = str(p.Reason), str(p.DeviceID), str(p.InstanceID)
	if p.LastInputSeconds != nil && *p.LastInputSeconds >= 0 {
		v := int64(*p.LastInputSeconds)
		e.LastInputSecs = &v
	}
	key := "text:" + text
	switch {
	case e.InstanceID != "":
		key = "instance:" + e.InstanceID
	case e.DeviceID != "":
		key = "device:" + e.DeviceID
	case e.Host != "":
		key = "host:" + e.Host
	}
	s.d.Server.UpsertPresence(key, e)
	return protocol.OKResult{OK: true}, nil
}

func (s *System) logsTail(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.LogsTailParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	limit, maxBytes := 500, 250000
	if p.Limit != nil {
		limit = *p.Limit
	}
	if p.MaxBytes != nil {
		maxBytes = *p.MaxBytes
	}
	res, err := logging.Tail(s.d.LogPath, p.Cursor, limit, maxBytes)
	if err != nil {
		return nil, protocol.Unavailable("reading the gateway log failed: "+err.Error(), 0)
	}
	return res, nil
}
