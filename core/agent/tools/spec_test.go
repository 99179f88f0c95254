package tools

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func allTools() []Tool {
	tools := FileTools()
	tools = append(tools, NewWebFetch(false), NewExec("deny", nil, nil), NewNodes(&fakeNodes{}))
	return append(tools, SessionTools(&fakeSessions{})...)
}

// TestSpecs checks every tool's name, description and parameter schema,
// and that the schema accepts the documented argument shapes.
func TestSpecs(t *testing.T) {
	valid := map[string][]string{
		"read":             {`{"path":"a.txt"}`, `{"path":"a.txt","offset":2,"limit":10}`},
		"write":            {`{"path":"a.txt","content":""}`},
		"edit":             {`{"path":"a.txt","oldText":"a","newText":""}`},
		"ls":               {`{}`, `{"path":"src"}`},
		"web_fetch":        {`{"url":"https://example.com","maxChars":1000}`},
		"exec":             {`{"command":"ls","workdir":"src","timeoutSeconds":30}`},
		"nodes":            {`{"action":"list"}`, `{"action":"invoke","node":"mac","invokeCommand":"camera.snap","invokeParamsJson":"{}","invokeTimeoutMs":1000}`},
		"sessions_list":    {`{}`, `{"limit":5,"kinds":["group"],"agentId":"main","label":"x","search":"y"}`},
		"sessions_history": {`{"sessionKey":"main","limit":5,"includeTools":true}`},
		"sessions_send":    {`{"sessionKey":"main","message":"hi"}`},
	}
	invalid := map[string][]string{
		"read":      {`{}`, `{"path":1}`, `{"path":"a","offset":0}`},
		"write":     {`{"path":"a"}`},
		"edit":      {`{"path":"a","oldText":"x"}`},
		"web_fetch": {`{}`},
		"exec":      {`{}`, `{"command":"ls","timeoutSeconds":601}`},
		"nodes":     {`{"action":"reboot"}`},
	}
	seen := map[string]bool{}
	for _, tool := range allTools() {
		s := tool.Spec()
		if seen[s.Name] {
			t.Fatalf("duplicate tool %s", s.Name)
		}
		seen[s.Name] = true
		if len(s.Description) < 40 || !strings.HasSuffix(s.Description, ".") {
			t.Errorf("%s: description %q", s.Name, s.Description)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(s.Parameters))
		if err != nil {
			t.Fatalf("%s: parameters are not JSON: %v", s.Name, err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(s.Name+".json", doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(s.Name + ".json")
		if err != nil {
			t.Fatalf("%s: schema does not compile: %v", s.Name, err)
		}
		var top map[string]any
		json.Unmarshal(s.Parameters, &top)
		if top["type"] != "object" {
			t.Errorf("%s: parameters type = %v", s.Name, top["type"])
		}
		check := func(args string, want bool) {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(args))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); (err == nil) != want {
				t.Errorf("%s: schema validation of %s = %v, want ok=%v", s.Name, args, err, want)
			}
		}
		for _, a := range valid[s.Name] {
			check(a, true)
		}
		for _, a := range invalid[s.Name] {
			check(a, false)
		}
	}
	for name := range valid {
		if !seen[name] {
			t.Errorf("no tool %s", name)
		}
	}
}

func TestSetWithPolicy(t *testing.T) {
	s := NewSet(Policy{Allow: []string{"sessions_*", "read", "exec"}, Deny: []string{"exec"}}, allTools()...)
	var names []string
	for _, sp := range s.Specs() {
		names = append(names, sp.Name)
	}
	if strings.Join(names, ",") != "read,sessions_list,sessions_history,sessions_send" {
		t.Fatalf("set = %v", names)
	}
}
