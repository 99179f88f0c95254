package canvas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// A2UI bounds.
const (
	maxA2UIMessages      = 500     // per push
	maxA2UIMessageBytes  = 1 << 20 // per message
	maxA2UIPushBytes     = 4 << 20 // per push
	maxA2UIStateBytes    = 4 << 20 // per agent (components + data models)
	maxA2UISurfaces      = 32      // per agent
	maxA2UIComponents    = 2000    // per surface
	maxA2UIValueDepth    = 32      // nested valueMap
	maxSurfaceIDLen      = 128
	maxA2UISubsPerAgent  = 16
	maxA2UISubsTotal     = 128
	a2uiSubBuffer        = 256
	a2uiMessageKindsText = "surfaceUpdate, dataModelUpdate, beginRendering or deleteSurface"
)

// a2uiComponents is the A2UI v0.8 standard catalog; the renderer draws
// every one of them.
var a2uiComponents = map[string]bool{
	"Text": true, "Image": true, "Icon": true, "Video": true, "AudioPlayer": true,
	"Row": true, "Column": true, "List": true, "Card": true, "Tabs": true, "Divider": true, "Modal": true,
	"Button": true, "CheckBox": true, "TextField": true, "DateTimeInput": true, "MultipleChoice": true, "Slider": true,
}

// a2uiMsg is one validated server-to-client message.
type a2uiMsg struct {
	kind      string
	surfaceID string
	raw       json.RawMessage // compact, as fanned out

	components []a2uiComponent // surfaceUpdate
	path       []string        // dataModelUpdate (nil: the root)
	contents   map[string]any  // dataModelUpdate
	begin      json.RawMessage // beginRendering body
}

type a2uiComponent struct {
	id  string
	raw json.RawMessage // the whole {id, weight?, component} entry
}

// parseA2UI validates one message.
func parseA2UI(raw json.RawMessage) (*a2uiMsg, error) {
	if len(raw) > maxA2UIMessageBytes {
		return nil, fmt.Errorf("message is larger than %d bytes", maxA2UIMessageBytes)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil || env == nil {
		return nil, errors.New("a message must be a JSON object with one of " + a2uiMessageKindsText)
	}
	if len(env) != 1 {
		return nil, fmt.Errorf("a message must have exactly one key (%s), got %d", a2uiMessageKindsText, len(env))
	}
	m := &a2uiMsg{raw: json.RawMessage(buf.Bytes())}
	var body json.RawMessage
	for k, v := range env {
		m.kind, body = k, v
	}
	var head struct {
		SurfaceID *string `json:"surfaceId"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("%s must be an object", m.kind)
	}
	switch m.kind {
	case "surfaceUpdate", "dataModelUpdate", "beginRendering", "deleteSurface":
	default:
		return nil, fmt.Errorf("unknown message %q (want %s)", m.kind, a2uiMessageKindsText)
	}
	if head.SurfaceID == nil || strings.TrimSpace(*head.SurfaceID) == "" {
		return nil, fmt.Errorf("%s.surfaceId is required", m.kind)
	}
	if len(*head.SurfaceID) > maxSurfaceIDLen {
		return nil, fmt.Errorf("%s.surfaceId is longer than %d bytes", m.kind, maxSurfaceIDLen)
	}
	m.surfaceID = *head.SurfaceID
	var err error
	switch m.kind {
	case "surfaceUpdate":
		err = m.parseSurfaceUpdate(body)
	case "dataModelUpdate":
		err = m.parseDataModelUpdate(body)
	case "beginRendering":
		var b struct {
			Root   *string         `json:"root"`
			Styles json.RawMessage `json:"styles"`
		}
		if err = json.Unmarshal(body, &b); err != nil {
			break
		}
		if b.Root == nil || *b.Root == "" {
			return nil, errors.New("beginRendering.root (the root component id) is required")
		}
		if len(b.Styles) > 0 && !isObject(b.Styles) {
			return nil, errors.New("beginRendering.styles must be an object")
		}
		m.begin = body
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", m.kind, err)
	}
	return m, nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func (m *a2uiMsg) parseSurfaceUpdate(body json.RawMessage) error {
	var b struct {
		Components *[]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return err
	}
	if b.Components == nil {
		return errors.New("components (an array) is required")
	}
	if len(*b.Components) > maxA2UIComponents {
		return fmt.Errorf("more than %d components", maxA2UIComponents)
	}
	for i, raw := range *b.Components {
		var c struct {
			ID        *string                    `json:"id"`
			Weight    *float64                   `json:"weight"`
			Component map[string]json.RawMessage `json:"component"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("components[%d]: %v", i, err)
		}
		if c.ID == nil || *c.ID == "" {
			return fmt.Errorf("components[%d].id is required", i)
		}
		if len(c.Component) != 1 {
			return fmt.Errorf("components[%d] (%s): component must hold exactly one component type", i, *c.ID)
		}
		for typ, props := range c.Component {
			if !a2uiComponents[typ] {
				return fmt.Errorf("components[%d] (%s): unknown component type %q (supported: %s)", i, *c.ID, typ,
					strings.Join(slices.Sorted(maps.Keys(a2uiComponents)), ", "))
			}
			if !isObject(props) {
				return fmt.Errorf("components[%d] (%s): %s properties must be an object", i, *c.ID, typ)
			}
		}
		m.components = append(m.components, a2uiComponent{id: *c.ID, raw: raw})
	}
	return nil
}

// dataEntry is one contents entry of a dataModelUpdate.
type dataEntry struct {
	Key          *string          `json:"key"`
	ValueString  *string          `json:"valueString"`
	ValueNumber  *float64         `json:"valueNumber"`
	ValueBoolean *bool            `json:"valueBoolean"`
	ValueMap     *json.RawMessage `json:"valueMap"`
}

func (m *a2uiMsg) parseDataModelUpdate(body json.RawMessage) error {
	var b struct {
		Path     *string          `json:"path"`
		Contents *json.RawMessage `json:"contents"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return err
	}
	if b.Contents == nil {
		return errors.New("contents (an array of {key, valueString|valueNumber|valueBoolean|valueMap}) is required")
	}
	if b.Path != nil {
		m.path = pointer(*b.Path)
	}
	var err error
	m.contents, err = decodeContents(*b.Contents, "contents", 0)
	return err
}

// pointer splits an A2UI data path (a JSON Pointer; the leading "/" may be
// left out) into its tokens; the root is an empty list.
func pointer(p string) []string {
	p = strings.Trim(p, " ")
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return []string{}
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

func decodeContents(raw json.RawMessage, where string, depth int) (map[string]any, error) {
	if depth > maxA2UIValueDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d levels", where, maxA2UIValueDepth)
	}
	var entries []dataEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%s must be an array of {key, value…} entries: %v", where, err)
	}
	out := make(map[string]any, len(entries))
	for i, e := range entries {
		at := fmt.Sprintf("%s[%d]", where, i)
		if e.Key == nil {
			return nil, fmt.Errorf("%s.key is required", at)
		}
		n := 0
		var v any
		if e.ValueString != nil {
			n, v = n+1, *e.ValueString
		}
		if e.ValueNumber != nil {
			n, v = n+1, *e.ValueNumber
		}
		if e.ValueBoolean != nil {
			n, v = n+1, *e.ValueBoolean
		}
		if e.ValueMap != nil {
			sub, err := decodeContents(*e.ValueMap, at+".valueMap", depth+1)
			if err != nil {
				return nil, err
			}
			n, v = n+1, sub
		}
		if n != 1 {
			return nil, fmt.Errorf("%s (%s) needs exactly one of valueString, valueNumber, valueBoolean, valueMap", at, *e.Key)
		}
		out[*e.Key] = v
	}
	return out, nil
}

// surfaceState is one surface as the agent built it so far.
type surfaceState struct {
	ID         string
	Components map[string]json.RawMessage
	Order      []string
	Data       map[string]any
	Begin      json.RawMessage
	size       int
}

func (s *surfaceState) clone() *surfaceState {
	c := *s
	c.Components = maps.Clone(s.Components)
	c.Order = slices.Clone(s.Order)
	c.Data = cloneValue(s.Data).(map[string]any)
	return &c
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

func (s *surfaceState) measure() {
	n := len(s.Begin)
	for _, raw := range s.Components {
		n += len(raw)
	}
	if b, err := json.Marshal(s.Data); err == nil {
		n += len(b)
	}
	s.size = n
}

// apply changes the surface by a dataModelUpdate.
func (s *surfaceState) setData(path []string, contents map[string]any) {
	if len(path) == 0 {
		s.Data = contents
		return
	}
	cur := s.Data
	for i, tok := range path {
		last := i == len(path)-1
		next, ok := cur[tok].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[tok] = next
		}
		if last {
			maps.Copy(next, contents)
			return
		}
		cur = next
	}
}

// snapshotSurface is a surface in the stream's snapshot event.
type snapshotSurface struct {
	SurfaceID      string            `json:"surfaceId"`
	Components     []json.RawMessage `json:"components"`
	DataModel      map[string]any    `json:"dataModel"`
	BeginRendering json.RawMessage   `json:"beginRendering,omitempty"`
}

// agentSurfaces are one agent's surfaces and the pages streaming them.
type agentSurfaces struct {
	surfaces map[string]*surfaceState
	order    []string
	subs     map[*a2uiSub]struct{}
}

type a2uiEvent struct{ name, data string }

type a2uiSub struct {
	token, nodeID string
	ch            chan a2uiEvent
	done          chan struct{}
	once          sync.Once
}

func (s *a2uiSub) drop() { s.once.Do(func() { close(s.done) }) }

// a2uiHub keeps every agent's surfaces.
type a2uiHub struct {
	mu     sync.Mutex
	closed bool
	total  int
	agents map[string]*agentSurfaces
}

func newA2UIHub() *a2uiHub { return &a2uiHub{agents: map[string]*agentSurfaces{}} }

func (hub *a2uiHub) agentLocked(id string) *agentSurfaces {
	a := hub.agents[id]
	if a == nil {
		a = &agentSurfaces{surfaces: map[string]*surfaceState{}, subs: map[*a2uiSub]struct{}{}}
		hub.agents[id] = a
	}
	return a
}

// push applies validated messages all or nothing and fans them out.
func (hub *a2uiHub) push(agentID string, msgs []*a2uiMsg) error {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	a := hub.agentLocked(agentID)
	staged := map[string]*surfaceState{} // nil value: deleted
	order := slices.Clone(a.order)
	get := func(id string) *surfaceState {
		if s, ok := staged[id]; ok && s != nil {
			return s
		}
		var s *surfaceState
		if _, deleted := staged[id]; !deleted && a.surfaces[id] != nil {
			s = a.surfaces[id].clone()
		} else {
			s = &surfaceState{ID: id, Components: map[string]json.RawMessage{}, Data: map[string]any{}}
			if !slices.Contains(order, id) {
				order = append(order, id)
			}
		}
		staged[id] = s
		return s
	}
	for _, m := range msgs {
		switch m.kind {
		case "deleteSurface":
			staged[m.surfaceID] = nil
			order = slices.DeleteFunc(order, func(x string) bool { return x == m.surfaceID })
		case "surfaceUpdate":
			s := get(m.surfaceID)
			for _, c := range m.components {
				if _, ok := s.Components[c.id]; !ok {
					s.Order = append(s.Order, c.id)
				}
				s.Components[c.id] = c.raw
			}
			if len(s.Components) > maxA2UIComponents {
				return fmt.Errorf("surface %q would hold more than %d components", m.surfaceID, maxA2UIComponents)
			}
		case "dataModelUpdate":
			s := get(m.surfaceID)
			s.setData(m.path, cloneValue(m.contents).(map[string]any))
		case "beginRendering":
			get(m.surfaceID).Begin = m.begin
		}
	}
	if len(order) > maxA2UISurfaces {
		return fmt.Errorf("an agent may keep at most %d surfaces (delete some with deleteSurface)", maxA2UISurfaces)
	}
	total := 0
	for id, s := range a.surfaces {
		if _, ok := staged[id]; !ok {
			total += s.size
		}
	}
	for _, s := range staged {
		if s != nil {
			s.measure()
			total += s.size
		}
	}
	if total > maxA2UIStateBytes {
		return fmt.Errorf("the agent's surfaces would exceed %d bytes (delete surfaces or send smaller updates)", maxA2UIStateBytes)
	}
	for id, s := range staged {
		if s == nil {
			delete(a.surfaces, id)
		} else {
			a.surfaces[id] = s
		}
	}
	a.order = order
	for _, m := range msgs {
		hub.fanoutLocked(a, a2uiEvent{name: "a2ui", data: string(m.raw)})
	}
	return nil
}

func (hub *a2uiHub) fanoutLocked(a *agentSurfaces, ev a2uiEvent) {
	for s := range a.subs {
		select {
		case s.ch <- ev:
		default:
			// A page that cannot keep up reconnects and gets a snapshot.
			s.drop()
		}
	}
}

// reset deletes all of an agent's surfaces.
func (hub *a2uiHub) reset(agentID string) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	a := hub.agentLocked(agentID)
	for _, id := range a.order {
		raw, _ := json.Marshal(map[string]any{"deleteSurface": map[string]string{"surfaceId": id}})
		hub.fanoutLocked(a, a2uiEvent{name: "a2ui", data: string(raw)})
	}
	a.surfaces, a.order = map[string]*surfaceState{}, nil
}

// subscribe registers a page and returns the snapshot it starts from.
func (hub *a2uiHub) subscribe(agentID, token, nodeID string) (*a2uiSub, string, error) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if hub.closed {
		return nil, "", errors.New("closed")
	}
	a := hub.agentLocked(agentID)
	if hub.total >= maxA2UISubsTotal || len(a.subs) >= maxA2UISubsPerAgent {
		return nil, "", errors.New("too many A2UI pages are open")
	}
	snap := struct {
		Surfaces []snapshotSurface `json:"surfaces"`
	}{Surfaces: []snapshotSurface{}}
	for _, id := range a.order {
		s := a.surfaces[id]
		ss := snapshotSurface{SurfaceID: id, DataModel: s.Data, BeginRendering: s.Begin, Components: []json.RawMessage{}}
		for _, cid := range s.Order {
			ss.Components = append(ss.Components, s.Components[cid])
		}
		snap.Surfaces = append(snap.Surfaces, ss)
	}
	raw, err := json.Marshal(snap)
	if err != nil {
		return nil, "", err
	}
	sub := &a2uiSub{token: token, nodeID: nodeID, ch: make(chan a2uiEvent, a2uiSubBuffer), done: make(chan struct{})}
	a.subs[sub] = struct{}{}
	hub.total++
	return sub, string(raw), nil
}

func (hub *a2uiHub) unsubscribe(agentID string, sub *a2uiSub) {
	sub.drop()
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if a := hub.agents[agentID]; a != nil {
		if _, ok := a.subs[sub]; ok {
			delete(a.subs, sub)
			hub.total--
		}
	}
}

// streaming reports whether node has agentID's page open through a live
// capability token.
func (hub *a2uiHub) streaming(agentID, nodeID string, caps *capStore) bool {
	hub.mu.Lock()
	var tokens []string
	if a := hub.agents[agentID]; a != nil {
		for s := range a.subs {
			if s.nodeID == nodeID && s.token != "" {
				select {
				case <-s.done:
				default:
					tokens = append(tokens, s.token)
				}
			}
		}
	}
	hub.mu.Unlock()
	for _, t := range tokens {
		if caps.lookup(t) != nil {
			return true
		}
	}
	return false
}

func (hub *a2uiHub) dropTokens(set map[string]bool) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	for _, a := range hub.agents {
		for s := range a.subs {
			if s.token != "" && set[s.token] {
				s.drop()
			}
		}
	}
}

func (hub *a2uiHub) close() {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	hub.closed = true
	for _, a := range hub.agents {
		for s := range a.subs {
			s.drop()
		}
	}
}

// PushA2UI validates A2UI v0.8 messages, applies them to the agent's
// surfaces and sends them to the agent's open A2UI pages. Nothing is
// applied when one message is invalid.
func (h *Host) PushA2UI(agentID string, messages []json.RawMessage) error {
	agentID = h.agentOrMain(agentID)
	if !h.settings().enabled {
		return errors.New("the canvas host is disabled (canvasHost.enabled is false)")
	}
	if !h.agentKnown(agentID) {
		return fmt.Errorf("unknown agent id %q", agentID)
	}
	if len(messages) == 0 {
		return errors.New("no A2UI messages")
	}
	if len(messages) > maxA2UIMessages {
		return fmt.Errorf("at most %d A2UI messages per push", maxA2UIMessages)
	}
	total := 0
	parsed := make([]*a2uiMsg, 0, len(messages))
	for i, raw := range messages {
		if total += len(raw); total > maxA2UIPushBytes {
			return fmt.Errorf("the messages are larger than %d bytes together", maxA2UIPushBytes)
		}
		m, err := parseA2UI(raw)
		if err != nil {
			return fmt.Errorf("A2UI message %d: %v", i+1, err)
		}
		parsed = append(parsed, m)
	}
	return h.surface.push(agentID, parsed)
}

// ResetA2UI deletes every surface of an agent (open pages clear).
func (h *Host) ResetA2UI(agentID string) {
	h.surface.reset(h.agentOrMain(agentID))
}
