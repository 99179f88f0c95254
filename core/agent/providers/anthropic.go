package providers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

// DefaultAnthropicMaxTokens is max_tokens when the request leaves it 0: the
// Messages API requires one.
const DefaultAnthropicMaxTokens = 4096

// Anthropic speaks the Anthropic Messages API (api "anthropic-messages"),
// also offered by Anthropic-compatible endpoints (MiniMax, Synthetic …).
type Anthropic struct {
	id  string
	svc anthropic.MessageService
}

// NewAnthropic builds an Anthropic Messages provider.
func NewAnthropic(o Options) *Anthropic {
	if o.ID == "" {
		o.ID = "anthropic"
	}
	opts := []option.RequestOption{
		// The registry resolves credentials and base URL; the SDK's own
		// environment and profile lookup would second-guess it.
		option.WithoutEnvironmentDefaults(),
		option.WithHTTPClient(o.httpClient()),
		// Run does the retrying, with failover in mind.
		option.WithMaxRetries(0),
		option.WithMiddleware(httpErrorMiddleware(o.ID)),
	}
	if o.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(o.BaseURL))
	}
	if o.APIKey != "" {
		opts = append(opts, option.WithAPIKey(o.APIKey))
	}
	return &Anthropic{id: o.ID, svc: anthropic.NewMessageService(opts...)}
}

// ID implements Provider.
func (p *Anthropic) ID() string { return p.id }

// API implements Provider.
func (p *Anthropic) API() string { return APIAnthropicMessages }

// Stream implements Provider.
func (p *Anthropic) Stream(ctx context.Context, req Request, onEvent func(Event) error) (*Response, error) {
	params := anthropicParams(req)
	stream := p.svc.NewStreaming(ctx, params)
	defer stream.Close()

	resp := &Response{Provider: p.id, Model: req.Model, API: APIAnthropicMessages}
	var text strings.Builder
	type toolBlock struct {
		id, name string
		initial  any
		args     strings.Builder
	}
	tools := map[int64]*toolBlock{}
	stopped := false

	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "message_start":
			if ev.Message.Model != "" {
				resp.Model = string(ev.Message.Model)
			}
			u := ev.Message.Usage
			resp.Usage = Usage{
				Input:      int(u.InputTokens),
				Output:     int(u.OutputTokens),
				CacheRead:  int(u.CacheReadInputTokens),
				CacheWrite: int(u.CacheCreationInputTokens),
			}
		case "content_block_start":
			cb := ev.ContentBlock
			switch cb.Type {
			case "tool_use":
				tools[ev.Index] = &toolBlock{id: cb.ID, name: cb.Name, initial: cb.Input}
			case "text":
				if cb.Text != "" {
					text.WriteString(cb.Text)
					if err := onEvent(Event{TextDelta: cb.Text}); err != nil {
						return nil, err
					}
				}
			}
		case "content_block_delta":
			switch ev.Delta.Type {
			case "text_delta":
				if ev.Delta.Text == "" {
					continue
				}
				text.WriteString(ev.Delta.Text)
				if err := onEvent(Event{TextDelta: ev.Delta.Text}); err != nil {
					return nil, err
				}
			case "input_json_delta":
				if tb := tools[ev.Index]; tb != nil {
					tb.args.WriteString(ev.Delta.PartialJSON)
				}
			}
		case "content_block_stop":
			tb := tools[ev.Index]
			if tb == nil {
				continue
			}
			delete(tools, ev.Index)
			raw := tb.args.String()
			if strings.TrimSpace(raw) == "" && tb.initial != nil {
				// A call whose input came whole in content_block_start.
				if b, err := json.Marshal(tb.initial); err == nil {
					raw = string(b)
				}
			}
			args, err := argumentsJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: tool %s: %w", p.id, tb.name, err)
			}
			call := ToolCall{ID: tb.id, Name: tb.name, Arguments: args}
			resp.ToolCalls = append(resp.ToolCalls, call)
			if err := onEvent(Event{ToolCall: &call}); err != nil {
				return nil, err
			}
		case "message_delta":
			if ev.Delta.StopReason != "" {
				resp.StopReason = anthropicStopReason(string(ev.Delta.StopReason))
			}
			// message_delta carries cumulative counts; input and cache
			// counts only when the API revises them.
			u := ev.Usage
			if u.OutputTokens > 0 {
				resp.Usage.Output = int(u.OutputTokens)
			}
			if u.InputTokens > 0 {
				resp.Usage.Input = int(u.InputTokens)
			}
			if u.CacheReadInputTokens > 0 {
				resp.Usage.CacheRead = int(u.CacheReadInputTokens)
			}
			if u.CacheCreationInputTokens > 0 {
				resp.Usage.CacheWrite = int(u.CacheCreationInputTokens)
			}
		case "message_stop":
			stopped = true
		}
	}
	if err := stream.Err(); err != nil {
		return nil, p.mapError(err)
	}
	if !stopped {
		return nil, fmt.Errorf("%s: %w", p.id, errStreamTruncated)
	}
	resp.Text = text.String()
	if resp.StopReason == "" {
		resp.StopReason = StopEnd
	}
	return resp, nil
}

// mapError turns an error event of the stream (which arrives inside a 200
// response) into an *APIError with the status the API uses for its type.
func (p *Anthropic) mapError(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	var se *anthropic.Error
	if errors.As(err, &se) {
		var env struct {
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(se.RawJSON()), &env)
		status := se.StatusCode
		if status < 400 {
			status = anthropicErrorStatus(env.Error.Type)
		}
		msg := env.Error.Message
		if env.Error.Type != "" {
			msg = env.Error.Type + ": " + msg
		}
		if msg == "" {
			msg = se.RawJSON()
		}
		return &APIError{Provider: p.id, Status: status, Message: msg}
	}
	return fmt.Errorf("%s: %w", p.id, err)
}

func anthropicStopReason(r string) string {
	switch r {
	case "end_turn", "stop_sequence":
		return StopEnd
	case "tool_use":
		return StopToolUse
	case "max_tokens":
		return StopMaxTokens
	}
	return r // pause_turn, refusal …
}

// anthropicParams converts a Request to the Messages API body.
func anthropicParams(req Request) anthropic.MessageNewParams {
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultAnthropicMaxTokens
	}
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(req.Model),
		MaxTokens: int64(maxTokens),
		Messages:  anthropicMessages(req.Messages),
	}
	if req.System != "" {
		params.System = []anthropic.TextBlockParam{{
			Text: req.System,
			// The system prompt (with the tools before it) is the stable
			// prefix of every turn: cache it.
			CacheControl: anthropic.NewCacheControlEphemeralParam(),
		}}
	}
	if req.Temperature != nil {
		params.Temperature = anthropic.Float(*req.Temperature)
	}
	for _, t := range req.Tools {
		schema := schemaMap(t.Parameters)
		in := anthropic.ToolInputSchemaParam{Properties: schema["properties"], ExtraFields: map[string]any{}}
		if reqd, ok := schema["required"].([]any); ok {
			for _, r := range reqd {
				if s, ok := r.(string); ok {
					in.Required = append(in.Required, s)
				}
			}
		}
		for k, v := range schema {
			if k != "type" && k != "properties" && k != "required" {
				in.ExtraFields[k] = v
			}
		}
		tp := &anthropic.ToolParam{Name: t.Name, InputSchema: in}
		if t.Description != "" {
			tp.Description = anthropic.String(t.Description)
		}
		params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: tp})
	}
	return params
}

// anthropicMessages converts the conversation. Tool results become
// tool_result blocks of a user turn, and consecutive turns of one role are
// merged, because the API wants every result of an assistant turn's tool
// calls in the single user turn that follows it.
func anthropicMessages(msgs []Message) []anthropic.MessageParam {
	var out []anthropic.MessageParam
	add := func(role anthropic.MessageParamRole, blocks []anthropic.ContentBlockParamUnion) {
		if len(blocks) == 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = append(out[n-1].Content, blocks...)
			return
		}
		out = append(out, anthropic.MessageParam{Role: role, Content: blocks})
	}
	for _, m := range msgs {
		switch m.Role {
		case RoleAssistant:
			var blocks []anthropic.ContentBlockParamUnion
			for _, p := range m.Content {
				if p.Type == "text" && strings.TrimSpace(p.Text) != "" {
					blocks = append(blocks, anthropic.NewTextBlock(p.Text))
				}
			}
			for _, c := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(anthropicToolID(c.ID), json.RawMessage(argumentsOrEmpty(c.Arguments)), c.Name))
			}
			add(anthropic.MessageParamRoleAssistant, blocks)
		case RoleTool:
			res := anthropic.ToolResultBlockParam{ToolUseID: anthropicToolID(m.ToolCallID)}
			if m.IsError {
				res.IsError = anthropic.Bool(true)
			}
			for _, p := range m.Content {
				switch {
				case p.Type == "text" && p.Text != "":
					res.Content = append(res.Content, anthropic.ToolResultBlockParamContentUnion{OfText: &anthropic.TextBlockParam{Text: p.Text}})
				case p.Type == "image" && len(p.Data) > 0:
					res.Content = append(res.Content, anthropic.ToolResultBlockParamContentUnion{OfImage: anthropicImage(p).OfImage})
				}
			}
			add(anthropic.MessageParamRoleUser, []anthropic.ContentBlockParamUnion{{OfToolResult: &res}})
		default:
			var blocks []anthropic.ContentBlockParamUnion
			for _, p := range m.Content {
				switch {
				case p.Type == "text" && strings.TrimSpace(p.Text) != "":
					blocks = append(blocks, anthropic.NewTextBlock(p.Text))
				case p.Type == "image" && len(p.Data) > 0:
					blocks = append(blocks, anthropicImage(p))
				}
			}
			add(anthropic.MessageParamRoleUser, blocks)
		}
	}
	// Mark the end of the conversation so the next turn reads it from the
	// prompt cache.
	if n := len(out); n > 0 {
		if c := out[n-1].Content; len(c) > 0 {
			if cc := c[len(c)-1].GetCacheControl(); cc != nil {
				*cc = anthropic.NewCacheControlEphemeralParam()
			}
		}
	}
	return out
}

func anthropicImage(p Part) anthropic.ContentBlockParamUnion {
	return anthropic.NewImageBlockBase64(imageMediaType(p), base64.StdEncoding.EncodeToString(p.Data))
}

var badToolIDChars = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// anthropicToolID fits an id from another API (after a failover) to the
// pattern the Messages API accepts.
func anthropicToolID(id string) string {
	id = badToolIDChars.ReplaceAllString(id, "_")
	if id == "" {
		id = "toolu_missing"
	}
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}
