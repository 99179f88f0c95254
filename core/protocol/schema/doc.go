// Package schema generates the JSON Schema of the wire protocol from the
// types in core/protocol and validates documents against it.
//
// Generate renders one draft 2020-12 schema per method's params
// (protocol.MethodParams, "method.<method>.params.json") and per message
// shape (protocol.Shapes, "<Shape>.json"), plus index.json; the command
// ./gen writes them to assets/schema, which embeds them (assets.Schema).
// TestSchemaUpToDate fails when the checked-in files are stale.
//
// Validator checks params and messages against the embedded schemas and
// reports a failure the way the reference gateway does (AJV messages run
// through its formatValidationErrors), e.g.
//
//	at /client/id: must be equal to one of the allowed values
//	at root: unexpected property 'foo'
//	must have required property 'text'
//
// Only the first error is reported, chosen in the order the reference's
// validator checks keywords. Where a value that the reference accepts cannot
// be decoded by encoding/json (an integer written 4.0 or beyond int64, a
// number beyond float64, a key given twice) the validator rejects it, so that
// everything it accepts for a closed type decodes.
package schema

//go:generate go run ./gen
