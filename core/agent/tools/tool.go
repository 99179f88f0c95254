// Package tools are the agent's tools: workspace files, the host shell
// behind exec approvals, web fetch, nodes, sessions. Each tool is offered to
// the model only when the agent's allow/deny policy admits it.
package tools

import (
	"context"
	"encoding/json"
	"path"
	"slices"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// Call is one tool invocation by the model.
type Call struct {
	ID         string          // the model's tool call id
	Name       string          // tool name
	Args       json.RawMessage // the arguments object
	AgentID    string
	SessionKey string
	RunID      string
	Workspace  string // the agent's workspace directory (absolute)
}

// Result is what the tool returns to the model.
type Result struct {
	Content []providers.Part // text and images
	IsError bool
	// Details is structured data for the tool event stream (not sent to
	// the model).
	Details any
}

// Text is a text-only result.
func Text(s string) Result { return Result{Content: []providers.Part{{Type: "text", Text: s}}} }

// Error is an error result the model sees (the run goes on).
func Error(s string) Result {
	return Result{Content: []providers.Part{{Type: "text", Text: s}}, IsError: true}
}

// Tool is one tool.
type Tool interface {
	// Spec is the tool as offered to the model.
	Spec() providers.Tool
	// Run executes a call. A returned error is an internal failure (reported
	// to the model as an error result); a refusal is a Result with IsError.
	Run(ctx context.Context, call Call) (Result, error)
}

// Policy is an agent's allow/deny list of tool names; entries may be glob
// patterns ("web_*"). Deny wins; an empty Allow admits everything.
type Policy struct {
	Allow, Deny []string
}

// Admits reports whether the policy lets the agent use the tool.
func (p Policy) Admits(name string) bool {
	match := func(list []string) bool {
		return slices.ContainsFunc(list, func(pat string) bool {
			ok, err := path.Match(pat, name)
			return err == nil && ok
		})
	}
	if match(p.Deny) {
		return false
	}
	return len(p.Allow) == 0 || match(p.Allow)
}

// Set is the tools available to a run.
type Set struct {
	tools map[string]Tool
	order []string
}

// NewSet builds a set from tools admitted by the policy.
func NewSet(p Policy, all ...Tool) *Set {
	s := &Set{tools: map[string]Tool{}}
	for _, t := range all {
		name := t.Spec().Name
		if !p.Admits(name) {
			continue
		}
		if _, dup := s.tools[name]; !dup {
			s.order = append(s.order, name)
		}
		s.tools[name] = t
	}
	return s
}

// Specs are the tools offered to the model.
func (s *Set) Specs() []providers.Tool {
	out := make([]providers.Tool, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.tools[n].Spec())
	}
	return out
}

// Get finds a tool by name.
func (s *Set) Get(name string) (Tool, bool) {
	t, ok := s.tools[name]
	return t, ok
}
