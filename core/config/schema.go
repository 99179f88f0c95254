package config

import (
	"encoding/json"
	"sync"

	"github.com/invopop/jsonschema"
)

// Schema is the JSON Schema (draft 2020-12) of the config file, served by
// config.schema and usable as an editor "$schema". It is generated from the
// Go types once and cached.
func Schema() json.RawMessage { return schemaOnce() }

var schemaOnce = sync.OnceValue(func() json.RawMessage {
	// Every key is optional in the file: defaults fill the gaps.
	r := &jsonschema.Reflector{RequiredFromJSONSchemaTags: true}
	s := r.Reflect(&Config{})
	s.Title = "Pincer configuration"
	s.Description = "pincer.json (JSON5). Keys follow OpenClaw's openclaw.json where the concept is the same."
	b, err := json.Marshal(s)
	if err != nil {
		panic("config: schema: " + err.Error())
	}
	return b
})

// JSONSchemaExtend lets the schema accept the string shorthand that Parse
// accepts for a model reference.
func (ModelRef) JSONSchemaExtend(s *jsonschema.Schema) {
	obj := *s
	minLen := uint64(1)
	*s = jsonschema.Schema{AnyOf: []*jsonschema.Schema{
		{Type: "string", MinLength: &minLen, Description: `"provider/model"; shorthand for {primary}`},
		&obj,
	}}
}

// JSONSchemaExtend admits the editor "$schema" hint and OpenClaw's "meta"
// bookkeeping block at the top level, both of which Parse accepts silently.
func (Config) JSONSchemaExtend(s *jsonschema.Schema) {
	if s.Properties == nil {
		return
	}
	s.Properties.Set("$schema", &jsonschema.Schema{Type: "string"})
	s.Properties.Set("meta", &jsonschema.Schema{Type: "object"})
}
