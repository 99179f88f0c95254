package client

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/protocol"
)

func jsonNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// The wire struct must carry every field of protocol.ConnectParams, or the
// device layer's hook could set a field that is silently dropped.
func TestWireConnectParamsCoversProtocolType(t *testing.T) {
	want := jsonNames(reflect.TypeOf(protocol.ConnectParams{}))
	got := jsonNames(reflect.TypeOf(wireConnectParams{}))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("wireConnectParams fields %v, protocol.ConnectParams fields %v", got, want)
	}
	pw := reflect.TypeOf(wireConnectParams{})
	pp := reflect.TypeOf(protocol.ConnectParams{})
	for i := 0; i < pp.NumField(); i++ {
		f := pp.Field(i)
		wf, ok := pw.FieldByName(f.Name)
		if !ok || wf.Type != f.Type {
			t.Errorf("field %s: wire type %v, protocol type %v", f.Name, wf.Type, f.Type)
		}
	}
}

func TestMarshalConnectParamsRoundTrip(t *testing.T) {
	tok, path := "T", "/usr/bin"
	in := protocol.ConnectParams{
		MinProtocol: 4, MaxProtocol: 4,
		Client:      protocol.ClientInfo{ID: "node-host", Version: "v", Platform: "linux", Mode: "node"},
		Commands:    []string{"system.run"},
		PathEnv:     &path,
		Role:        "node",
		Auth:        &protocol.ConnectAuth{Token: &tok},
		Device:      &protocol.DeviceProof{ID: "d", PublicKey: "k", Signature: "s", SignedAt: 1, Nonce: "n"},
		Permissions: map[string]bool{"camera.capture": true},
	}
	b, err := marshalConnectParams(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out protocol.ConnectParams
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	// Empty caps/scopes are sent as [] (like the official node host).
	in.Caps, in.Scopes = []string{}, []string{}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	const wantPrefix = `{"minProtocol":4,"maxProtocol":4,"client":{"id":"node-host","version":"v","platform":"linux","mode":"node"},"caps":[],"commands":["system.run"],"permissions":{"camera.capture":true},"pathEnv":"/usr/bin","auth":{"token":"T"},"role":"node","scopes":[],"device":`
	if !strings.HasPrefix(string(b), wantPrefix) {
		t.Fatalf("got  %s\nwant %s…", b, wantPrefix)
	}
}

func TestEncodeParams(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{json.RawMessage(`{"a":1}`), `{"a":1}`},
		{json.RawMessage(` null `), ""},
		{[]byte(`[1]`), `[1]`},
		{map[string]int{"limit": 5}, `{"limit":5}`},
		{(*protocol.LogsTailParams)(nil), ""},
		{struct{}{}, `{}`},
	}
	for _, c := range cases {
		got, err := encodeParams(c.in)
		if err != nil {
			t.Fatalf("%#v: %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("%#v: got %q want %q", c.in, got, c.want)
		}
	}
	if _, err := encodeParams(json.RawMessage(`{bad`)); err == nil {
		t.Error("invalid raw JSON accepted")
	}
}

func TestParseChallenge(t *testing.T) {
	good := `{"nonce":"n1","ts":1795310799631,"capabilities":["model-catalog-snapshot"]}`
	ch, err := parseChallenge(json.RawMessage(good))
	if err != nil || ch.Nonce != "n1" || ch.Ts != 1795310799631 || len(ch.Capabilities) != 1 {
		t.Fatalf("good challenge: %+v %v", ch, err)
	}
	for _, bad := range []string{
		`{"ts":1}`, `{"nonce":"","ts":1}`, `{"nonce":"  ","ts":1}`,
		`{"nonce":"n"}`, `{"nonce":"n","ts":1.5}`, `{"nonce":"n","ts":"1"}`, `{"nonce":"n","ts":-1}`,
		`[]`, `null`,
	} {
		if _, err := parseChallenge(json.RawMessage(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.URL != "ws://127.0.0.1:18789" || o.ClientID != "cli" || o.ClientMode != "cli" || o.Role != "operator" ||
		o.Version != protocol.CompatVersion || o.MinProtocol != 4 || o.MaxProtocol != 4 ||
		!reflect.DeepEqual(o.Scopes, []string{"operator.read"}) || o.InstanceID == "" ||
		o.RequestTimeout != DefaultRequestTimeout || o.ChallengeTimeout != DefaultChallengeTimeout {
		t.Fatalf("defaults: %+v", o)
	}
	n, _ := Options{Role: "node"}.withDefaults()
	if n.Scopes == nil || len(n.Scopes) != 0 {
		t.Fatalf("node scopes %v", n.Scopes)
	}
	for _, u := range []string{"ftp://x", "ws://", "::"} {
		if _, err := (Options{URL: u}).withDefaults(); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}
