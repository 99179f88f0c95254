package openaicompat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
)

type responsesRequest struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       *string         `json:"instructions"`
	Stream             *bool           `json:"stream"`
	User               *string         `json:"user"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	sampling
}

type responsesItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	ID        string          `json:"id"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

type responsesPart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	ImageURL string  `json:"image_url"`
	FileData string  `json:"file_data"`
	FileURL  string  `json:"file_url"`
	FileID   string  `json:"file_id"`
	Filename string  `json:"filename"`
	Source   *struct {
		Type      string `json:"type"`
		URL       string `json:"url"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		Filename  string `json:"filename"`
	} `json:"source"`
}

// Text files (input_file) are placed in the system prompt as untrusted
// content, as the reference does; binary documents would need a parser.
const (
	maxFileBytes = 5 << 20
	maxFileChars = 60_000
)

var textFileTypes = []string{"text/plain", "text/markdown", "text/html", "text/csv", "application/json"}

// responsesPrompt is what a Responses request asks of the agent.
type responsesPrompt struct {
	Message     string
	ExtraSystem []string
	Images      []providers.Part
}

func buildResponsesPrompt(raw json.RawMessage, policy imagePolicy) (responsesPrompt, *apiError) {
	var p responsesPrompt
	if isNull(raw) {
		return p, invalid("input: Required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		p.Message = s
		if strings.TrimSpace(s) == "" {
			return p, invalid("Missing user message in `input`.")
		}
		return p, nil
	}
	var items []responsesItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return p, invalid("input: must be a string or an array of input items")
	}
	for i := range items {
		if items[i].Type == "" && items[i].Role != "" {
			items[i].Type = "message" // EasyInputMessage omits the type
		}
	}
	// The active turn is the latest user message, unless a tool result
	// follows it (a tool result starts its own turn without media).
	active := -1
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].Type == "function_call_output" {
			break
		}
		if items[i].Type == "message" && items[i].Role == "user" {
			active = i
			break
		}
	}
	budget := imageBudget{policy: policy}
	var entries []entry
	var files []string
	for i, it := range items {
		switch it.Type {
		case "message":
			text, hasImage, hasFile, e := responsesContent(it.Content, i == active, &budget, &files)
			if e != nil {
				return p, e
			}
			body := strings.TrimSpace(text)
			if body == "" && i == active {
				switch {
				case hasImage:
					body = imageOnlyMessage
				case hasFile:
					body = fileOnlyMessage
				}
			}
			if body == "" {
				continue
			}
			switch it.Role {
			case "system", "developer":
				p.ExtraSystem = append(p.ExtraSystem, body)
			case "assistant":
				entries = append(entries, entry{Role: "assistant", Sender: "Assistant", Body: body})
			case "user":
				entries = append(entries, entry{Role: "user", Sender: "User", Body: body})
			default:
				return p, invalid(fmt.Sprintf("input[%d].role: must be system, developer, user or assistant", i))
			}
		case "function_call":
			id := it.CallID
			if id == "" {
				id = it.ID
			}
			entries = append(entries, entry{Role: "assistant", Sender: "Assistant", Body: renderToolCall(id, it.Name, it.Arguments)})
		case "function_call_output":
			if it.CallID == "" {
				return p, invalid(fmt.Sprintf("input[%d].call_id: Required", i))
			}
			var out string
			if json.Unmarshal(it.Output, &out) != nil && !isNull(it.Output) {
				out = string(it.Output)
			}
			entries = append(entries, entry{Role: "tool", Sender: "Tool:" + it.CallID, Body: out})
		case "reasoning", "item_reference":
			// Accepted for schema compatibility; not part of the prompt.
		default:
			return p, invalid(fmt.Sprintf("input[%d].type: unsupported item type %q", i, it.Type))
		}
	}
	p.Message = buildMessage(entries)
	p.ExtraSystem = append(p.ExtraSystem, files...)
	p.Images = budget.images
	if p.Message == "" {
		return p, invalid("Missing user message in `input`.")
	}
	return p, nil
}

// responsesContent reads one message's content; media count only on the
// active turn (earlier turns were answered already).
func responsesContent(raw json.RawMessage, active bool, budget *imageBudget, files *[]string) (text string, hasImage, hasFile bool, e *apiError) {
	if isNull(raw) {
		return "", false, false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, false, false, nil
	}
	var parts []responsesPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", false, false, invalid("input: message content must be a string or an array of content parts")
	}
	var texts []string
	for _, pt := range parts {
		switch pt.Type {
		case "input_text", "output_text", "text":
			if pt.Text != nil && *pt.Text != "" {
				texts = append(texts, *pt.Text)
			}
		case "input_image":
			hasImage = true
			if !active {
				continue
			}
			if e := budget.count(); e != nil {
				return "", false, false, e
			}
			switch {
			case pt.Source != nil && pt.Source.Type == "base64":
				e = budget.addBase64(pt.Source.MediaType, pt.Source.Data)
			case pt.Source != nil:
				e = budget.addDataURL(pt.Source.URL)
			case pt.FileID != "" && pt.ImageURL == "":
				e = invalid("input_image.file_id is not supported; send the image as a base64 data: URL in image_url.")
			default:
				e = budget.addDataURL(pt.ImageURL)
			}
			if e != nil {
				return "", false, false, e
			}
		case "input_file":
			hasFile = true
			if !active {
				continue
			}
			block, e := fileBlock(pt)
			if e != nil {
				return "", false, false, e
			}
			*files = append(*files, block)
		default:
			return "", false, false, invalid(fmt.Sprintf("input: unsupported content part type %q", pt.Type))
		}
	}
	return strings.Join(texts, "\n"), hasImage, hasFile, nil
}

// fileBlock decodes an inline text file and wraps it as untrusted content
// for the system prompt.
func fileBlock(pt responsesPart) (string, *apiError) {
	var mediaType, data, name string
	switch {
	case pt.Source != nil && pt.Source.Type == "base64":
		mediaType, data, name = pt.Source.MediaType, pt.Source.Data, pt.Source.Filename
	case pt.FileData != "":
		name = pt.Filename
		data = pt.FileData
		if len(data) > 5 && strings.EqualFold(data[:5], "data:") {
			meta, payload, ok := strings.Cut(data[5:], ",")
			if !ok || !strings.Contains(strings.ToLower(meta), "base64") {
				return "", invalid("input_file.file_data must be base64 (data:<type>;base64,<data>).")
			}
			mediaType, _, _ = strings.Cut(meta, ";")
			data = payload
		}
	default:
		return "", invalid("input_file must carry its content inline (base64 source or file_data); URLs and file ids are not supported.")
	}
	if base := len(data) * 3 / 4; base > maxFileBytes+3 {
		return "", invalid(fmt.Sprintf("input_file is larger than %d MB.", maxFileBytes>>20))
	}
	raw, err := decodeBase64(data)
	if err != nil {
		return "", invalid("input_file data does not decode as base64: " + err.Error())
	}
	if len(raw) > maxFileBytes {
		return "", invalid(fmt.Sprintf("input_file is larger than %d MB.", maxFileBytes>>20))
	}
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if mediaType == "" {
		mediaType, _, _ = strings.Cut(http.DetectContentType(raw), ";")
	}
	ok := false
	for _, t := range textFileTypes {
		ok = ok || mediaType == t
	}
	if !ok || !utf8.Valid(raw) {
		return "", invalid(fmt.Sprintf("input_file type %q is not supported; send UTF-8 text (%s).", mediaType, strings.Join(textFileTypes, ", ")))
	}
	text := string(raw)
	if utf8.RuneCountInString(text) > maxFileChars {
		text = string([]rune(text)[:maxFileChars]) + "\n[truncated]"
	}
	if name == "" {
		name = "file"
	}
	id := uuid.NewString()[:8]
	return fmt.Sprintf("<file name=%q>\n<<<EXTERNAL_UNTRUSTED_CONTENT id=%q>>>\nSource: External\n---\n%s\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=%q>>>\n</file>",
		name, id, text, id), nil
}

// responseSessions remembers which session a response ran in, so a
// request with previous_response_id continues it (30 minutes, 500 entries,
// scoped to the same caller, agent and explicit session header).
type responseSessions struct {
	mu      sync.Mutex
	entries map[string]responseSession
	order   []string
}

type responseSession struct {
	scope      string
	sessionKey string
	at         time.Time
}

const (
	responseSessionTTL = 30 * time.Minute
	responseSessionMax = 500
)

func newResponseSessions() *responseSessions {
	return &responseSessions{entries: map[string]responseSession{}}
}

func (s *responseSessions) put(id, scope, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.entries[id] = responseSession{scope: scope, sessionKey: key, at: now}
	s.order = append(s.order, id)
	for len(s.order) > 0 {
		oldest := s.order[0]
		e, ok := s.entries[oldest]
		if ok && len(s.entries) <= responseSessionMax && now.Sub(e.at) <= responseSessionTTL {
			break
		}
		s.order = s.order[1:]
		delete(s.entries, oldest)
	}
}

func (s *responseSessions) get(id, scope string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok || e.scope != scope || time.Since(e.at) > responseSessionTTL {
		return "", false
	}
	return e.sessionKey, true
}

// responseScope identifies who may continue a response.
func responseScope(r *http.Request, agentID string) string {
	subject := "gateway-auth"
	if tok := gateway.BearerToken(r); tok != "" {
		sum := sha256.Sum256([]byte(tok))
		subject = "bearer:" + hex.EncodeToString(sum[:])
	}
	return subject + "\x00" + agentID + "\x00" + strings.TrimSpace(r.Header.Get(headerSessionKey))
}

func responsesUsage(u providers.Usage) map[string]any {
	in := max(0, u.Input) + max(0, u.CacheRead) + max(0, u.CacheWrite)
	out := max(0, u.Output)
	return map[string]any{
		"input_tokens":          in,
		"input_tokens_details":  map[string]any{"cached_tokens": max(0, u.CacheRead), "cache_write_tokens": max(0, u.CacheWrite)},
		"output_tokens":         out,
		"output_tokens_details": map[string]any{"reasoning_tokens": 0},
		"total_tokens":          in + out,
	}
}

// responseResource is a Response object.
type responseResource struct {
	ID        string
	CreatedAt int64
	Model     string
}

func (rr responseResource) object(status string, output []any, usage map[string]any, failure *apiError) map[string]any {
	if usage == nil {
		usage = responsesUsage(providers.Usage{})
	}
	if output == nil {
		output = []any{}
	}
	o := map[string]any{"id": rr.ID, "object": "response", "created_at": rr.CreatedAt, "status": status,
		"model": rr.Model, "output": output, "usage": usage}
	if failure != nil {
		o["error"] = map[string]any{"code": failure.Type, "message": failure.Message}
	}
	return o
}

func messageItem(id, text, phase, status string) map[string]any {
	item := map[string]any{"type": "message", "id": id, "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": text}}, "status": status}
	if phase != "" {
		item["phase"] = phase
	}
	return item
}

func (a *api) createResponse(w http.ResponseWriter, r *http.Request, cfg *config.Config) {
	var req responsesRequest
	if e := readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := req.sampling.check(); e != nil {
		writeError(w, e)
		return
	}
	if e := checkTools(req.Tools, req.ToolChoice, false); e != nil {
		writeError(w, e)
		return
	}
	model := req.Model
	if strings.TrimSpace(model) == "" {
		model = modelOpenClaw
	}
	tgt, e := resolveTarget(r, cfg, model, req.User, "openresponses")
	if e != nil {
		writeError(w, e)
		return
	}
	scope := responseScope(r, tgt.AgentID)
	if req.PreviousResponseID != nil {
		if key, ok := a.responses.get(strings.TrimSpace(*req.PreviousResponseID), scope); ok {
			tgt.SessionKey = key
		}
	}
	prompt, e := buildResponsesPrompt(req.Input, imagePolicyFor(endpointBlock(cfg, endpointResponses)))
	if e != nil {
		writeError(w, e)
		return
	}
	var system []string
	if req.Instructions != nil && strings.TrimSpace(*req.Instructions) != "" {
		system = append(system, strings.TrimSpace(*req.Instructions))
	}
	system = append(system, prompt.ExtraSystem...)

	rr := responseResource{ID: runID(r, "resp_"), CreatedAt: time.Now().Unix(), Model: model}
	itemID := "msg_" + uuid.NewString()
	turn := agent.Turn{RunID: rr.ID, SessionKey: tgt.SessionKey, AgentID: tgt.AgentID, Message: prompt.Message,
		Images: prompt.Images, QueueMode: agent.QueueFollowup, ExtraSystem: strings.Join(system, "\n\n"), Model: tgt.Model}
	req.sampling.apply(&turn)
	stream := req.Stream != nil && *req.Stream
	if !stream {
		ticket, err := a.d.Agents.Submit(r.Context(), turn)
		if err != nil {
			a.submitFailed(w, r, err)
			return
		}
		out, err := ticket.Wait(r.Context())
		if err != nil {
			return
		}
		a.responses.put(rr.ID, scope, tgt.SessionKey)
		if fail := runFailure(out); fail != nil {
			w.Header().Set("x-should-retry", "false")
			writeJSON(w, fail.Status, rr.object("failed", nil, responsesUsage(out.Usage), fail))
			return
		}
		text := out.Text
		if text == "" {
			text = noResponseText
		}
		writeJSON(w, http.StatusOK, rr.object("completed", []any{messageItem(itemID, text, "final_answer", "completed")}, responsesUsage(out.Usage), nil))
		return
	}

	q := newDeltaQueue()
	turn.OnDelta = q.push
	ticket, err := a.d.Agents.Submit(r.Context(), turn)
	if err != nil {
		a.submitFailed(w, r, err)
		return
	}
	sse := startSSE(w)
	seq := 0
	ev := func(typ string, fields map[string]any) bool {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		return sse.event(typ, fields)
	}
	textEv := func(fields map[string]any) map[string]any {
		fields["item_id"], fields["output_index"], fields["content_index"] = itemID, 0, 0
		return fields
	}
	initial := rr.object("in_progress", nil, nil, nil)
	pending := messageItem(itemID, "", "", "in_progress")
	pending["content"] = []any{}
	if !ev("response.created", map[string]any{"response": initial}) ||
		!ev("response.in_progress", map[string]any{"response": initial}) ||
		!ev("response.output_item.added", map[string]any{"output_index": 0, "item": pending}) ||
		!ev("response.content_part.added", textEv(map[string]any{"part": map[string]any{"type": "output_text", "text": ""}})) {
		return
	}
	out, ok := pump(r.Context(), sse, ticket, q, func(d string) bool {
		return ev("response.output_text.delta", textEv(map[string]any{"delta": d, "logprobs": []any{}}))
	})
	if !ok {
		return
	}
	a.responses.put(rr.ID, scope, tgt.SessionKey)
	if fail := runFailure(out.Outcome); fail != nil {
		if ev("response.failed", map[string]any{"response": rr.object("failed", nil, responsesUsage(out.Usage), fail)}) {
			sse.done()
		}
		return
	}
	if rest := out.remainder(); rest != "" {
		if !ev("response.output_text.delta", textEv(map[string]any{"delta": rest, "logprobs": []any{}})) {
			return
		}
		out.Sent += rest
	}
	final := out.Sent
	item := messageItem(itemID, final, "final_answer", "completed")
	if !ev("response.output_text.done", textEv(map[string]any{"text": final, "logprobs": []any{}})) ||
		!ev("response.content_part.done", textEv(map[string]any{"part": map[string]any{"type": "output_text", "text": final}})) ||
		!ev("response.output_item.done", map[string]any{"output_index": 0, "item": item}) ||
		!ev("response.completed", map[string]any{"response": rr.object("completed", []any{item}, responsesUsage(out.Usage), nil)}) {
		return
	}
	sse.done()
}
