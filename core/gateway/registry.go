package gateway

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pincerhq/pincer/core/protocol"
)

// Role requirements of a method.
const (
	RoleOperator = protocol.RoleOperator // default: operators only
	RoleNode     = protocol.RoleNode     // node-role methods
	RoleAny      = "any"                 // both roles (health)
)

// Handler answers one request. It returns the payload of the final res, or
// an error (a *protocol.Error goes on the wire as is; anything else becomes
// UNAVAILABLE).
type Handler func(ctx context.Context, call *Call) (any, error)

// Method describes one RPC method.
type Method struct {
	Name string
	// Scope is the operator scope the method needs ("" = any authenticated
	// operator). Dynamic, when set, computes it from the params instead.
	Scope   string
	Dynamic func(params json.RawMessage) string
	Role    string // RoleOperator (default), RoleNode or RoleAny
	// Hidden methods are callable but not advertised in features.methods.
	Hidden bool
	// Idempotent methods are deduplicated by params.idempotencyKey: a repeat
	// within the TTL replays the first result instead of running again.
	Idempotent bool
	// InFlight answers a repeat whose first run has not finished; nil: the
	// repeat waits for the first result.
	InFlight func(params json.RawMessage) any
	// ControlPlaneWrite methods are rate limited per actor (30 per 60 s).
	ControlPlaneWrite bool
	Handler           Handler
}

// EventGuard says who may receive a broadcast event.
type EventGuard struct {
	// All: every authenticated connection, nodes included.
	All bool
	// AnyOf: operators satisfying at least one of these scopes.
	AnyOf []string
	// Hidden events are delivered but not advertised in features.events.
	Hidden bool
}

// Register adds a method. Registering a name twice panics: domains own
// disjoint method sets.
func (s *Server) Register(m Method) {
	if m.Name == "" || m.Handler == nil {
		panic("gateway: method needs a name and a handler")
	}
	if m.Role == "" {
		m.Role = RoleOperator
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if _, dup := s.methods[m.Name]; dup {
		panic(fmt.Sprintf("gateway: method %q registered twice", m.Name))
	}
	mm := m
	s.methods[m.Name] = &mm
	if !m.Hidden {
		s.methodOrder = append(s.methodOrder, m.Name)
	}
}

// RegisterEvent declares an event the gateway may broadcast, with its guard.
// Broadcasting an undeclared event drops it (fail closed).
func (s *Server) RegisterEvent(name string, guard EventGuard) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if _, dup := s.events[name]; dup {
		panic(fmt.Sprintf("gateway: event %q registered twice", name))
	}
	g := guard
	s.events[name] = &g
	if !g.Hidden {
		s.eventOrder = append(s.eventOrder, name)
	}
}

// Methods lists the advertised methods in registration order.
func (s *Server) Methods() []string {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	return append([]string(nil), s.methodOrder...)
}

// Events lists the advertised events in registration order.
func (s *Server) Events() []string {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	return append([]string(nil), s.eventOrder...)
}

func (s *Server) method(name string) *Method {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	return s.methods[name]
}

func (s *Server) eventGuard(name string) *EventGuard {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	return s.events[name]
}

// Call is one request being handled.
type Call struct {
	Conn   *Conn
	ID     string
	Method string
	Params json.RawMessage
	acked  bool
}

// Bind decodes the params into v (params were validated already).
func (c *Call) Bind(v any) error {
	if len(c.Params) == 0 || string(c.Params) == "null" {
		return nil
	}
	if err := json.Unmarshal(c.Params, v); err != nil {
		return protocol.InvalidParams(c.Method, err.Error())
	}
	return nil
}

// Ack sends the interim res of a two-phase method (payload.status is
// "accepted"); the handler's return value is sent later as the final res.
func (c *Call) Ack(payload any) {
	c.acked = true
	c.Conn.sendResult(c.ID, payload)
}
