package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/coder/websocket"
	"github.com/pincerhq/pincer/core/protocol"
)

// authorize applies role gating and scopes (spec §4.1–4.2).
// errAnswered means authorize already sent the error res.
var errAnswered = &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "answered"}

func (s *Server) authorize(c *Conn, id string, m *Method, params json.RawMessage) *protocol.Error {
	if m.Role == RoleAny {
		return nil
	}
	if m.Role != c.role {
		c.mu.Lock()
		c.roleErrs++
		n := c.roleErrs
		c.mu.Unlock()
		e := protocol.InvalidRequest("unauthorized role: " + c.role)
		if n > maxRoleErrors {
			// Answer this call, then close.
			c.sendError(id, e)
			c.closeAfterFlush(websocket.StatusPolicyViolation, "repeated unauthorized calls")
			return errAnswered
		}
		return e
	}
	if c.role == protocol.RoleNode {
		return nil
	}
	required := m.Scope
	if m.Dynamic != nil {
		required = m.Dynamic(params)
	}
	if required == "" || protocol.ScopeSatisfied(c.scopes, required) {
		return nil
	}
	return protocol.MissingScope(required)
}

func (s *Server) dispatch(c *Conn, req *protocol.RequestFrame) {
	start := time.Now()
	outcome := "ok"
	var code string
	defer func() {
		attrs := []any{"conn", c.id, "id", req.ID, "outcome", outcome, "durationMs", time.Since(start).Milliseconds(), "client", c.params.Client.ID}
		if code != "" {
			attrs[5] = "error"
			attrs = append(attrs, "errorCode", code)
		}
		s.log.Info("⇄ res "+req.Method, attrs...)
	}()
	m := s.method(req.Method)
	if m == nil {
		code = protocol.CodeInvalidRequest
		c.sendError(req.ID, protocol.UnknownMethod(req.Method))
		return
	}
	params := req.Params
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage("{}")
	}
	if e := s.authorize(c, req.ID, m, params); e != nil {
		code = e.Code
		if e != errAnswered {
			c.sendError(req.ID, e)
		}
		return
	}
	if v := s.opt.Validator; v != nil {
		if err := v.ValidateParams(req.Method, params); err != nil {
			code = protocol.CodeInvalidRequest
			c.sendError(req.ID, protocol.InvalidParams(req.Method, err.Error()))
			return
		}
	}
	if m.ControlPlaneWrite {
		actor := c.clientIP
		if c.deviceID != "" {
			actor = "device:" + c.deviceID
		}
		if ok, wait := s.cpw.allow(actor + "|" + m.Name); !ok {
			secs := int64(wait.Seconds()) + 1
			code = protocol.CodeUnavailable
			c.sendError(req.ID, &protocol.Error{
				Code: protocol.CodeUnavailable, Retryable: true, RetryAfterMs: wait.Milliseconds(),
				Message: fmt.Sprintf("rate limit exceeded for %s; retry after %ds", m.Name, secs),
				Details: protocol.Details{"method": m.Name, "limit": "30 per 60s"},
			})
			return
		}
	}
	call := &Call{Conn: c, ID: req.ID, Method: req.Method, Params: params}
	if m.Idempotent {
		if key := idempotencyKey(params); key != "" {
			code = s.dispatchIdempotent(c, m, call, req.Method+":"+key)
			return
		}
	}
	payload, err := s.invoke(m, call)
	if err != nil {
		code = asProtocolError(err).Code
	}
	c.reply(call, payload, err)
}

// invoke runs the handler, turning a panic into UNAVAILABLE so one bad
// request never takes the gateway down.
func (s *Server) invoke(m *Method, call *Call) (payload any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("method handler panicked", "method", call.Method, "panic", r, "stack", string(debug.Stack()))
			payload, err = nil, protocol.Unavailable(fmt.Sprintf("%s failed: internal error", call.Method), 0)
		}
	}()
	return m.Handler(call.Conn.Context(), call)
}

// asProtocolError maps a handler error to its wire form.
func asProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &protocol.Error{Code: protocol.CodeUnavailable, Message: err.Error(), Retryable: true}
}

// FinalError lets a two-phase handler fail its final res with both a
// payload and an error (ok:false), as the reference does for agent runs.
type FinalError struct {
	Payload any
	Err     *protocol.Error
}

func (f *FinalError) Error() string { return f.Err.Error() }

func (c *Conn) reply(call *Call, payload any, err error) {
	if err != nil {
		var fe *FinalError
		if errors.As(err, &fe) {
			c.sendErrorWithPayload(call.ID, fe.Payload, fe.Err)
			return
		}
		c.sendError(call.ID, asProtocolError(err))
		return
	}
	c.sendResult(call.ID, payload)
}

func idempotencyKey(params json.RawMessage) string {
	var p struct {
		IdempotencyKey string `json:"idempotencyKey"`
	}
	if json.Unmarshal(params, &p) != nil {
		return ""
	}
	return p.IdempotencyKey
}

// dispatchIdempotent replays the first outcome for a repeated key instead
// of running the method again.
func (s *Server) dispatchIdempotent(c *Conn, m *Method, call *Call, key string) (errCode string) {
	e, repeat := s.dedupe.begin(key)
	if repeat {
		select {
		case <-e.done:
		default:
			if m.InFlight != nil {
				c.sendResult(call.ID, m.InFlight(call.Params))
				return ""
			}
			select {
			case <-e.done:
			case <-c.closedCh:
				return ""
			}
		}
		if e.err != nil {
			if e.payload != nil {
				c.sendErrorWithPayload(call.ID, e.payload, e.err)
			} else {
				c.sendError(call.ID, e.err)
			}
			return e.err.Code
		}
		c.enqueue(resFrame(call.ID, true, e.payload, nil))
		return ""
	}
	payload, err := s.invoke(m, call)
	var raw json.RawMessage
	var perr *protocol.Error
	if err != nil {
		var fe *FinalError
		if errors.As(err, &fe) {
			raw, perr = mustJSON(fe.Payload), fe.Err
		} else {
			perr = asProtocolError(err)
		}
	} else {
		raw = mustJSON(payload)
		if payload == nil {
			raw = json.RawMessage("null")
		}
	}
	s.dedupe.finish(e, raw, perr)
	c.reply(call, payload, err)
	if perr != nil {
		return perr.Code
	}
	return ""
}
