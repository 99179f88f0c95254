package schema

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/assets"
	"github.com/pincerhq/pincer/core/protocol"
)

// TestSchemaUpToDate fails when the checked-in assets/schema differs from
// what the protocol types generate.
func TestSchemaUpToDate(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	entries, err := fs.ReadDir(assets.Schema, "schema")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(assets.Schema, "schema/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = b
	}
	var problems []string
	for name, b := range want {
		g, ok := got[name]
		switch {
		case !ok:
			problems = append(problems, "missing "+name)
		case !bytes.Equal(g, b):
			problems = append(problems, "changed "+name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			problems = append(problems, "extra "+name)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		t.Fatalf("assets/schema is stale; run `make schema`\n\t%s", strings.Join(problems, "\n\t"))
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) {
			t.Fatal("different file sets")
		}
		for name := range a {
			if !bytes.Equal(a[name], b[name]) {
				t.Fatalf("%s differs between runs", name)
			}
		}
	}
}

func TestGenerateFiles(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(protocol.MethodParams) + len(protocol.Shapes) + 1; len(files) != n {
		t.Fatalf("%d files, want %d", len(files), n)
	}
	for _, name := range []string{"method.health.params.json", "method.logs.tail.params.json", "ConnectParams.json", "RequestFrame.json", IndexFile} {
		if _, ok := files[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for name, b := range files {
		if !bytes.HasSuffix(b, []byte("}\n")) || bytes.HasSuffix(b, []byte("\n\n")) {
			t.Errorf("%s: want exactly one trailing newline", name)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name == IndexFile {
			continue
		}
		if doc["$schema"] != draft2020 {
			t.Errorf("%s: $schema %v", name, doc["$schema"])
		}
		if doc["$id"] != BaseID+name {
			t.Errorf("%s: $id %v", name, doc["$id"])
		}
		if strings.Contains(string(b), `"$ref"`) {
			t.Errorf("%s: not self-contained", name)
		}
	}

	var idx struct{ Methods, Shapes map[string]string }
	if err := json.Unmarshal(files[IndexFile], &idx); err != nil {
		t.Fatal(err)
	}
	for m := range protocol.MethodParams {
		if idx.Methods[m] != MethodFile(m) {
			t.Errorf("index: method %s → %q", m, idx.Methods[m])
		}
	}
	for s := range protocol.Shapes {
		if idx.Shapes[s] != ShapeFile(s) {
			t.Errorf("index: shape %s → %q", s, idx.Shapes[s])
		}
	}
}

// Open params accept unknown keys at the top level only; every other object
// is closed.
func TestOpenAndClosed(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for m, v := range protocol.MethodParams {
		var doc map[string]any
		if err := json.Unmarshal(files[MethodFile(m)], &doc); err != nil {
			t.Fatal(err)
		}
		_, open := v.(protocol.Open)
		if ap, has := doc["additionalProperties"]; open == has || (has && ap != false) {
			t.Errorf("%s: open=%v but additionalProperties=%v", m, open, ap)
		}
	}
	var connect map[string]any
	if err := json.Unmarshal(files["ConnectParams.json"], &connect); err != nil {
		t.Fatal(err)
	}
	props := connect["properties"].(map[string]any)
	for _, name := range []string{"client", "device", "auth", "workerRuns"} {
		if ap := props[name].(map[string]any)["additionalProperties"]; ap != false {
			t.Errorf("connect %s: additionalProperties=%v", name, ap)
		}
	}
}

// The keys of "properties" keep the Go declaration order.
func TestPropertyOrder(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := decodeOrdered(files["ConnectParams.json"])
	if err != nil {
		t.Fatal(err)
	}
	got := doc.(*object).obj("properties").keys
	var want []string
	for _, f := range jsonFields(reflect.TypeFor[protocol.ConnectParams]()) {
		want = append(want, f.name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("properties order %v, want %v", got, want)
	}
}
