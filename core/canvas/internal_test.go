package canvas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func msgs(t *testing.T, raw ...string) []*a2uiMsg {
	t.Helper()
	out := make([]*a2uiMsg, len(raw))
	for i, r := range raw {
		m, err := parseA2UI(json.RawMessage(r))
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		out[i] = m
	}
	return out
}

func TestA2UIDataModel(t *testing.T) {
	hub := newA2UIHub()
	if err := hub.push("main", msgs(t,
		`{"dataModelUpdate":{"surfaceId":"s","contents":[{"key":"a","valueMap":[{"key":"b","valueNumber":1}]},{"key":"x/y","valueBoolean":true}]}}`,
		`{"dataModelUpdate":{"surfaceId":"s","path":"a","contents":[{"key":"c","valueString":"2"}]}}`,
		`{"dataModelUpdate":{"surfaceId":"s","path":"/x~1y/deep","contents":[{"key":"d","valueString":"3"}]}}`,
		`{"dataModelUpdate":{"surfaceId":"s","path":"/new/path","contents":[]}}`,
	)); err != nil {
		t.Fatal(err)
	}
	got := hub.agents["main"].surfaces["s"].Data
	want := map[string]any{
		"a":   map[string]any{"b": 1.0, "c": "2"},
		"x/y": map[string]any{"deep": map[string]any{"d": "3"}},
		"new": map[string]any{"path": map[string]any{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("data = %v, want %v", got, want)
	}
	// No path (or "/") replaces the model.
	if err := hub.push("main", msgs(t, `{"dataModelUpdate":{"surfaceId":"s","path":"/","contents":[{"key":"z","valueString":""}]}}`)); err != nil {
		t.Fatal(err)
	}
	if got := hub.agents["main"].surfaces["s"].Data; !reflect.DeepEqual(got, map[string]any{"z": ""}) {
		t.Fatalf("root replace = %v", got)
	}
}

func TestA2UIAllOrNothing(t *testing.T) {
	hub := newA2UIHub()
	var batch []string
	for i := range maxA2UISurfaces + 1 {
		batch = append(batch, fmt.Sprintf(`{"beginRendering":{"surfaceId":"s%d","root":"r"}}`, i))
	}
	if err := hub.push("main", msgs(t, batch...)); err == nil || !strings.Contains(err.Error(), "surfaces") {
		t.Fatalf("too many surfaces: %v", err)
	}
	if n := len(hub.agents["main"].surfaces); n != 0 {
		t.Fatalf("a refused batch left %d surfaces", n)
	}
	// Deleting and rebuilding a surface in one batch.
	if err := hub.push("main", msgs(t,
		`{"surfaceUpdate":{"surfaceId":"s","components":[{"id":"a","component":{"Text":{"text":{"literalString":"1"}}}}]}}`,
		`{"deleteSurface":{"surfaceId":"s"}}`,
		`{"surfaceUpdate":{"surfaceId":"s","components":[{"id":"b","component":{"Divider":{}}}]}}`,
	)); err != nil {
		t.Fatal(err)
	}
	s := hub.agents["main"].surfaces["s"]
	if len(s.Components) != 1 || s.Components["b"] == nil || !reflect.DeepEqual(hub.agents["main"].order, []string{"s"}) {
		t.Fatalf("rebuilt surface = %+v order %v", s, hub.agents["main"].order)
	}
	// The state size is bounded.
	big := strings.Repeat("x", maxA2UIMessageBytes-200)
	var huge []string
	for i := range maxA2UIStateBytes/len(big) + 1 {
		huge = append(huge, fmt.Sprintf(`{"dataModelUpdate":{"surfaceId":"s","path":"/k%d","contents":[{"key":"v","valueString":%q}]}}`, i, big))
	}
	if err := hub.push("main", msgs(t, huge...)); err == nil || !strings.Contains(err.Error(), "exceed") {
		t.Fatalf("oversized state: %v", err)
	}
	if len(hub.agents["main"].surfaces["s"].Data) != 0 {
		t.Fatal("a refused batch changed the data model")
	}
}

func TestA2UISlowPageDropped(t *testing.T) {
	hub := newA2UIHub()
	sub, snap, err := hub.subscribe("main", "", "")
	if err != nil || snap != `{"surfaces":[]}` {
		t.Fatalf("subscribe = %q %v", snap, err)
	}
	for range a2uiSubBuffer + 1 {
		if err := hub.push("main", msgs(t, `{"deleteSurface":{"surfaceId":"s"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-sub.done:
	default:
		t.Fatal("a page that does not read was not dropped")
	}
	hub.unsubscribe("main", sub)
	if hub.total != 0 {
		t.Fatalf("total = %d", hub.total)
	}
}

func TestCapStore(t *testing.T) {
	s := newCapStore()
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	var toks []string
	for range maxGrantsPerConn + 2 {
		g, dropped, err := s.mint("c1", "n1", "h:1", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) >= maxGrantsPerConn && (len(dropped) != 1 || dropped[0] != toks[len(toks)-maxGrantsPerConn]) {
			t.Fatalf("dropped %v", dropped)
		}
		toks = append(toks, g.token)
	}
	if s.lookup(toks[0]) != nil || s.lookup(toks[len(toks)-1]) == nil {
		t.Fatal("per-connection cap not applied")
	}
	if g := s.fresh("c1"); g == nil || g.token != toks[len(toks)-1] {
		t.Fatal("fresh grant missing")
	}
	now = now.Add(31 * time.Minute)
	if s.fresh("c1") != nil {
		t.Fatal("a grant past half its life is not fresh")
	}
	if s.lookup(toks[len(toks)-1]) == nil {
		t.Fatal("grant expired early")
	}
	now = now.Add(30 * time.Minute)
	if s.lookup(toks[len(toks)-1]) != nil {
		t.Fatal("expired grant accepted")
	}
	if got := s.revokeConn("c1"); len(got) != maxGrantsPerConn-1 {
		t.Fatalf("revoked %d", len(got))
	}
	if len(s.byToken) != 0 || len(s.byConn) != 0 {
		t.Fatalf("left %d/%d", len(s.byToken), len(s.byConn))
	}
}

func TestCleanRel(t *testing.T) {
	for in, want := range map[string]string{"": ".", "a.html": "a.html", "d/": "d", "d/e.js": "d/e.js"} {
		got, ok := cleanRel(in)
		if want == "" {
			if ok {
				t.Errorf("cleanRel(%q) = %q accepted", in, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("cleanRel(%q) = %q %v", in, got, ok)
		}
	}
	for _, bad := range []string{"..", "../a", "a/../../b", "./a", "a//b", `a\..\b`, "a\x00", "/etc/passwd"} {
		if got, ok := cleanRel(bad); ok {
			t.Errorf("cleanRel(%q) = %q accepted", bad, got)
		}
	}
}

func TestInjectReload(t *testing.T) {
	out := string(injectReload([]byte("<html><BODY>x</BODY></html>"), "/e?agent=main"))
	if !strings.HasPrefix(out, `<html><BODY>x<script data-pincer-live-reload>`) || !strings.HasSuffix(out, `</script></BODY></html>`) ||
		!strings.Contains(out, `new EventSource("/e?agent=main")`) {
		t.Fatalf("inject = %q", out)
	}
}
