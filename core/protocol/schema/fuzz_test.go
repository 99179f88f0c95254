package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pincerhq/pincer/core/protocol"
)

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func FuzzValidateConnect(f *testing.F) {
	v := newTestValidator(f)
	addSeeds(f, cliConnect, backendConnect, nodeHostConnect,
		strings.Replace(cliConnect, `"cli"`, `"ios-node"`, 1),
		strings.Replace(cliConnect, `"minProtocol":4`, `"minProtocol":4.0`, 1),
		`{"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"1","platform":"p","mode":"cli"},"modelCatalog":{"shortId":"x"},"workerRuns":{"bundleHash":"`+strings.Repeat("a", 64)+`","openclawVersion":"1","protocolFeatures":["f"],"bundlePrewarm":3},"permissions":{"a":true},"computerUse":{"x":[1,2]}}`,
		`{}`, `null`, `[]`, `"x"`, `1`, `{"a":`, `{"a":1,"a":2}`, ` {"minProtocol":1e400} `)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := v.ValidateConnect(data)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Reason == "" {
				t.Fatalf("got %T %v, want a *ValidationError with a reason", err, err)
			}
			return
		}
		var p protocol.ConnectParams
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatalf("params pass validation but do not decode: %v\n%s", err, data)
		}
	})
}

func FuzzRequestFrame(f *testing.F) {
	v := newTestValidator(f)
	addSeeds(f,
		`{"type":"req","id":"1:d5f3","method":"connect","params":`+cliConnect+`}`,
		`{"type":"req","id":"2:x","method":"health"}`,
		`{"type":"req","id":"2","method":"logs.tail","params":{"limit":0},"traceparent":"00-abc-def-01"}`,
		`{"type":"req","id":"1","method":"health","extra":1}`,
		`{"type":"res","id":"","method":""}`, `{}`, `[`, `{"type":"req","type":"req"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := v.ValidateShape("RequestFrame", data)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Reason == "" {
				t.Fatalf("got %T %v, want a *ValidationError with a reason", err, err)
			}
			return
		}
		var fr protocol.RequestFrame
		if err := json.Unmarshal(data, &fr); err != nil {
			t.Fatalf("frame passes validation but does not decode: %v\n%s", err, data)
		}
		// The params of a valid frame validate without panicking too.
		_ = v.ValidateParams(fr.Method, fr.Params)
	})
}

// decodeInstance is a drop-in for jsonschema.UnmarshalJSON, except that it
// rejects duplicate keys.
func FuzzDecodeInstance(f *testing.F) {
	addSeeds(f, cliConnect, `{"a":"\u00e9\ud800x\"","b":[1,-0.5e3,true,false,null]}`, "\"\xff\xfe\"", `[{},[]]`, `1 2`, ` "x" `, `1E700`, `{"a":1,"a":2}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeInstance(data)
		want, werr := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if werr != nil {
			if err == nil {
				t.Fatalf("decodeInstance accepted what jsonschema.UnmarshalJSON rejects (%v): %q", werr, data)
			}
			return
		}
		if err != nil {
			var dup *errDuplicate
			if !errors.As(err, &dup) {
				t.Fatalf("decodeInstance rejected valid JSON: %v: %q", err, data)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeInstance %#v, jsonschema.UnmarshalJSON %#v", got, want)
		}
	})
}
