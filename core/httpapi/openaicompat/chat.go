package openaicompat

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/config"
)

type chatRequest struct {
	Model         string          `json:"model"`
	Messages      json.RawMessage `json:"messages"`
	Stream        *bool           `json:"stream"`
	StreamOptions *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	User           *string         `json:"user"`
	Tools          json.RawMessage `json:"tools"`
	ToolChoice     json.RawMessage `json:"tool_choice"`
	ResponseFormat json.RawMessage `json:"response_format"`
	sampling
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

type chatPart struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	InputText *string         `json:"input_text"`
	ImageURL  json.RawMessage `json:"image_url"`
}

// chatContent splits a message's content into its text and image URLs.
func chatContent(raw json.RawMessage) (text string, images []string, e *apiError) {
	if isNull(raw) {
		return "", nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil, nil
	}
	var parts []chatPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", nil, invalid("messages: content must be a string or an array of content parts")
	}
	var texts []string
	for _, p := range parts {
		switch {
		case (p.Type == "text" || p.Type == "input_text") && p.Text != nil:
			texts = append(texts, *p.Text)
		case p.InputText != nil:
			texts = append(texts, *p.InputText)
		case p.Type == "image_url":
			var url string
			if json.Unmarshal(p.ImageURL, &url) != nil {
				var obj struct {
					URL string `json:"url"`
				}
				if json.Unmarshal(p.ImageURL, &obj) != nil {
					return "", nil, invalid("Invalid image_url content in `messages`: image_url must be a URL string or {url}.")
				}
				url = obj.URL
			}
			images = append(images, url)
		}
	}
	return strings.Join(texts, "\n"), images, nil
}

// chatPrompt is what a chat request asks of the agent.
type chatPrompt struct {
	Message     string
	ExtraSystem string
	Images      []providers.Part
}

func buildChatPrompt(raw json.RawMessage, policy imagePolicy) (chatPrompt, *apiError) {
	var p chatPrompt
	var msgs []chatMessage
	if !isNull(raw) {
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return p, invalid("messages: must be an array of {role, content} objects")
		}
	}
	// The active turn is the last user (or tool result) message; only its
	// images are sent, as earlier ones were answered already.
	active := -1
	for i := len(msgs) - 1; i >= 0; i-- {
		if r := msgs[i].Role; r == "user" || r == "tool" || r == "function" {
			active = i
			break
		}
	}
	budget := imageBudget{policy: policy}
	var system []string
	var entries []entry
	for i, m := range msgs {
		text, urls, e := chatContent(m.Content)
		if e != nil {
			return p, e
		}
		text = strings.TrimSpace(text)
		role := m.Role
		switch role {
		case "system", "developer":
			if text != "" {
				system = append(system, text)
			}
			continue
		case "function":
			role = "tool"
		case "user", "assistant", "tool":
		default:
			continue
		}
		if i == active && role == "user" {
			for _, u := range urls {
				if e := budget.count(); e != nil {
					return p, e
				}
				if e := budget.addDataURL(u); e != nil {
					return p, e
				}
			}
		}
		body := text
		if role == "user" && body == "" && i == active && len(urls) > 0 {
			body = imageOnlyMessage
		}
		if role == "assistant" {
			var calls []string
			for _, c := range m.ToolCalls {
				if c.ID == "" || c.Function.Name == "" {
					continue
				}
				args := string(c.Function.Arguments)
				var s string
				if json.Unmarshal(c.Function.Arguments, &s) == nil {
					args = s
				} else if isNull(c.Function.Arguments) {
					args = ""
				}
				calls = append(calls, renderToolCall(c.ID, c.Function.Name, args))
			}
			body = strings.Join(slicesNonEmpty(body, strings.Join(calls, "\n")), "\n")
		}
		toolResult := role == "tool" && (m.ToolCallID != "" || m.Name != "")
		if body == "" && !toolResult {
			continue
		}
		sender := map[string]string{"user": "User", "assistant": "Assistant"}[role]
		if role == "tool" {
			sender = "Tool"
			switch {
			case m.ToolCallID != "":
				sender = "Tool:" + m.ToolCallID
			case m.Name != "":
				sender = "Tool:" + m.Name
			}
		}
		entries = append(entries, entry{Role: role, Sender: sender, Body: body})
	}
	p.Message = buildMessage(entries)
	p.ExtraSystem = strings.Join(system, "\n\n")
	p.Images = budget.images
	if p.Message == "" && len(p.Images) == 0 {
		return p, invalid("Missing user message in `messages`.")
	}
	return p, nil
}

func slicesNonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (a *api) chatCompletions(w http.ResponseWriter, r *http.Request, cfg *config.Config) {
	var req chatRequest
	if e := readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := req.sampling.check(); e != nil {
		writeError(w, e)
		return
	}
	if !isNull(req.ResponseFormat) {
		var rf struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(req.ResponseFormat, &rf) != nil || (rf.Type != "text" && rf.Type != "json_object" && rf.Type != "json_schema") {
			writeError(w, invalid("Invalid response_format: response_format.type must be text, json_object, or json_schema"))
			return
		}
	}
	if e := checkTools(req.Tools, req.ToolChoice, true); e != nil {
		writeError(w, e)
		return
	}
	model := req.Model
	if strings.TrimSpace(model) == "" {
		model = modelOpenClaw
	}
	tgt, e := resolveTarget(r, cfg, model, req.User, "openai")
	if e != nil {
		writeError(w, e)
		return
	}
	prompt, e := buildChatPrompt(req.Messages, imagePolicyFor(endpointBlock(cfg, endpointChat)))
	if e != nil {
		writeError(w, e)
		return
	}
	id := runID(r, "chatcmpl_")
	created := time.Now().Unix()
	turn := agent.Turn{RunID: id, SessionKey: tgt.SessionKey, AgentID: tgt.AgentID, Message: prompt.Message,
		Images: prompt.Images, QueueMode: agent.QueueFollowup, ExtraSystem: prompt.ExtraSystem, Model: tgt.Model}
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
			return // the client went away; the run goes on and is recorded
		}
		if e := runFailure(out); e != nil {
			writeError(w, e)
			return
		}
		text := out.Text
		if text == "" {
			text = noResponseText
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
			"usage":   chatUsage(out.Usage),
		})
		return
	}

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage != nil && *req.StreamOptions.IncludeUsage
	q := newDeltaQueue()
	turn.OnDelta = q.push
	ticket, err := a.d.Agents.Submit(r.Context(), turn)
	if err != nil {
		a.submitFailed(w, r, err)
		return
	}
	sse := startSSE(w)
	chunk := func(choices []any, extra map[string]any) bool {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices}
		for k, v := range extra {
			c[k] = v
		}
		return sse.data(c)
	}
	choice := func(delta map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}
	}
	if !chunk(choice(map[string]any{"role": "assistant"}, nil), nil) {
		return
	}
	out, ok := pump(r.Context(), sse, ticket, q, func(d string) bool {
		return chunk(choice(map[string]any{"content": d}, nil), nil)
	})
	if !ok {
		return
	}
	if e := runFailure(out.Outcome); e != nil {
		// openai-go and the Python SDK raise on a data object carrying
		// "error", which is how the reference ends a failed stream.
		if sse.data(errorBody(e)) {
			sse.done()
		}
		return
	}
	if rest := out.remainder(); rest != "" && !chunk(choice(map[string]any{"content": rest}, nil), nil) {
		return
	}
	if !chunk(choice(map[string]any{}, "stop"), nil) {
		return
	}
	if includeUsage && !chunk([]any{}, map[string]any{"usage": chatUsage(out.Usage)}) {
		return
	}
	sse.done()
}

func (a *api) submitFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	a.log.Warn("agent run not started", "path", r.URL.Path, "err", err)
	writeError(w, submitError(err))
}

// chatUsage maps run usage as the reference does: cache reads count as
// prompt tokens.
func chatUsage(u providers.Usage) map[string]any {
	prompt := max(0, u.Input+u.CacheRead)
	completion := max(0, u.Output)
	out := map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
	if u.CacheRead > 0 {
		out["prompt_tokens_details"] = map[string]any{"cached_tokens": u.CacheRead}
	}
	return out
}
