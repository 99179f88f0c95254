package sessions

import "encoding/json"

// Wire is the display-normalized shape chat.history sends for a message, as
// the OpenClaw gateway does:
//
//	user:       {role, content, timestamp, idempotencyKey?, __openclaw{id, seq, idempotencyKey?, senderIsOwner?}}
//	assistant:  {role, content[], api?, provider?, model?, usage?{…, cost{…}}, stopReason?, responseId?, timestamp, __openclaw{runId?, id, seq}}
//	tool:       {role:"toolResult", toolCallId, toolName, content[], isError, timestamp, __openclaw{runId?, id, seq}}
//	system:     {role, content, timestamp, __openclaw{id, seq}}
//
// __openclaw also carries kind ("inject", "compaction") and label when set.
// Empty optional fields are omitted.
func Wire(m Message) map[string]any {
	w := map[string]any{}
	meta := map[string]any{"id": m.ID, "seq": m.Seq}
	content := m.Content
	if len(content) == 0 {
		if m.Role == RoleUser || m.Role == RoleSystem {
			content = json.RawMessage(`""`)
		} else {
			content = json.RawMessage(`[]`)
		}
	}
	w["content"] = content
	w["timestamp"] = m.Timestamp
	put := func(dst map[string]any, k, v string) {
		if v != "" {
			dst[k] = v
		}
	}
	switch m.Role {
	case RoleUser:
		w["role"] = RoleUser
		put(w, "idempotencyKey", m.IdempotencyKey)
		if m.SenderIsOwner {
			meta["senderIsOwner"] = true
		}
	case RoleAssistant:
		w["role"] = RoleAssistant
		put(w, "api", m.API)
		put(w, "provider", m.Provider)
		put(w, "model", m.Model)
		put(w, "stopReason", m.StopReason)
		put(w, "responseId", m.ResponseID)
		if m.Usage != nil {
			w["usage"] = wireUsage(*m.Usage)
		}
		put(meta, "runId", m.RunID)
	case RoleTool:
		w["role"] = "toolResult"
		put(w, "toolCallId", m.ToolCallID)
		put(w, "toolName", m.ToolName)
		w["isError"] = m.IsError
		put(meta, "runId", m.RunID)
	default:
		w["role"] = m.Role
		put(meta, "runId", m.RunID)
	}
	put(meta, "idempotencyKey", m.IdempotencyKey)
	put(meta, "kind", m.Kind)
	put(meta, "label", m.Label)
	w["__openclaw"] = meta
	return w
}

func wireUsage(u Usage) map[string]any {
	total := u.TotalTokens
	if total == 0 {
		total = u.Input + u.Output + u.CacheRead + u.CacheWrite
	}
	c := Cost{}
	if u.Cost != nil {
		c = *u.Cost
	}
	return map[string]any{
		"input":       u.Input,
		"output":      u.Output,
		"cacheRead":   u.CacheRead,
		"cacheWrite":  u.CacheWrite,
		"totalTokens": total,
		"cost": map[string]any{
			"input": c.Input, "output": c.Output, "cacheRead": c.CacheRead, "cacheWrite": c.CacheWrite, "total": c.Total,
		},
	}
}
