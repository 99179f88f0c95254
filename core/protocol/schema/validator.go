package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pincerhq/pincer/assets"
)

// ValidationError is a params or message that does not match its schema.
// Reason is formatted like the reference gateway's AJV-based messages
// ("at /client/id: must be equal to one of the allowed values"), which
// clients parse.
type ValidationError struct{ Reason string }

func (e *ValidationError) Error() string { return e.Reason }

// Validator validates JSON documents against the embedded schemas
// (assets.Schema). A schema is compiled on first use and cached; a Validator
// is safe for concurrent use.
type Validator struct {
	fsys    fs.FS
	methods map[string]*entry
	shapes  map[string]*entry
}

type entry struct {
	file string
	once sync.Once
	sch  *jsonschema.Schema
	doc  *object // the schema document with its key order, for error reports
	err  error
}

// New returns a Validator over the embedded schemas. It reads only the index;
// schemas are compiled lazily.
func New() (*Validator, error) {
	sub, err := fs.Sub(assets.Schema, "schema")
	if err != nil {
		return nil, err
	}
	return newValidator(sub)
}

func newValidator(fsys fs.FS) (*Validator, error) {
	raw, err := fs.ReadFile(fsys, IndexFile)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	var idx struct {
		Methods map[string]string `json:"methods"`
		Shapes  map[string]string `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("schema: %s: %w", IndexFile, err)
	}
	v := &Validator{
		fsys:    fsys,
		methods: make(map[string]*entry, len(idx.Methods)),
		shapes:  make(map[string]*entry, len(idx.Shapes)),
	}
	for m, f := range idx.Methods {
		v.methods[m] = &entry{file: f}
	}
	for s, f := range idx.Shapes {
		v.shapes[s] = &entry{file: f}
	}
	return v, nil
}

// ValidateConnect validates the params of a connect request (ConnectParams).
// Absent params (nil or empty) fail like the reference's ("must be object").
// A failure is a *ValidationError.
func (v *Validator) ValidateConnect(params []byte) error {
	if len(bytes.TrimSpace(params)) == 0 {
		params = []byte("null")
	}
	return v.ValidateShape("ConnectParams", params)
}

// ValidateParams validates the params of a request for method. Absent params
// (nil or empty) are validated as {}. A method without a schema passes. A
// failure is a *ValidationError.
func (v *Validator) ValidateParams(method string, params []byte) error {
	e, ok := v.methods[method]
	if !ok {
		return nil
	}
	if len(bytes.TrimSpace(params)) == 0 {
		params = []byte("{}")
	}
	return v.validate(e, params)
}

// ValidateShape validates doc against the schema of a message shape
// (protocol.Shapes). A failure is a *ValidationError; an unknown shape name
// is another error.
func (v *Validator) ValidateShape(name string, doc []byte) error {
	e, ok := v.shapes[name]
	if !ok {
		return fmt.Errorf("schema: no schema for shape %q", name)
	}
	return v.validate(e, doc)
}

func (v *Validator) load(e *entry) error {
	e.once.Do(func() {
		raw, err := fs.ReadFile(v.fsys, e.file)
		if err != nil {
			e.err = fmt.Errorf("schema: %w", err)
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			e.err = fmt.Errorf("schema: %s: %w", e.file, err)
			return
		}
		ordered, err := decodeOrdered(raw)
		if err != nil {
			e.err = fmt.Errorf("schema: %s: %w", e.file, err)
			return
		}
		root, ok := ordered.(*object)
		if !ok {
			e.err = fmt.Errorf("schema: %s is not a schema object", e.file)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		c.RegisterFormat(int64Format)
		c.RegisterFormat(doubleFormat)
		id := BaseID + e.file
		if err := c.AddResource(id, doc); err != nil {
			e.err = fmt.Errorf("schema: %s: %w", e.file, err)
			return
		}
		sch, err := c.Compile(id)
		if err != nil {
			e.err = fmt.Errorf("schema: %s: %w", e.file, err)
			return
		}
		e.sch, e.doc = sch, root
	})
	return e.err
}

func (v *Validator) validate(e *entry, data []byte) error {
	if err := v.load(e); err != nil {
		return err
	}
	inst, err := decodeInstance(data)
	if err != nil {
		if dup, ok := err.(*errDuplicate); ok {
			return &ValidationError{Reason: dup.Error()}
		}
		return &ValidationError{Reason: "invalid JSON: " + err.Error()}
	}
	err = e.sch.Validate(inst)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &ValidationError{Reason: err.Error()}
	}
	return &ValidationError{Reason: newReporter(e.doc, data).reason(verr, reportAll)}
}

// The generator marks Go integers "int64" and floats "double". Asserting
// these formats rejects numbers encoding/json cannot decode into the Go
// field (1.0 or 1e3 for an int, out-of-range values), so that whatever
// passes validation also decodes.
var (
	int64Format = &jsonschema.Format{Name: "int64", Validate: func(v any) error {
		if n, ok := v.(json.Number); ok {
			if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
				return errors.New("not an int64")
			}
		}
		return nil
	}}
	doubleFormat = &jsonschema.Format{Name: "double", Validate: func(v any) error {
		if n, ok := v.(json.Number); ok {
			f, err := strconv.ParseFloat(string(n), 64)
			if err != nil || math.IsInf(f, 0) {
				return errors.New("not a double")
			}
		}
		return nil
	}}
)
