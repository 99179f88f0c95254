package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// OpenAIChat speaks OpenAI Chat Completions (api "openai-completions"):
// OpenAI itself and the OpenAI-compatible servers — Ollama, LM Studio,
// vLLM, llama.cpp, SGLang, LiteLLM … — given their BaseURL.
type OpenAIChat struct {
	id     string
	native bool // api.openai.com: OpenAI-only fields are safe
	svc    openai.ChatCompletionService
}

// NewOpenAIChat builds a Chat Completions provider.
func NewOpenAIChat(o Options) *OpenAIChat {
	if o.ID == "" {
		o.ID = "openai"
	}
	return &OpenAIChat{
		id:     o.ID,
		native: isOpenAIHost(o.BaseURL),
		svc:    openai.NewChatCompletionService(openAIOptions(o)...),
	}
}

// openAIOptions configures an openai-go service without openai.NewClient,
// which would pick up OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID … from
// the environment and send OpenAI's key to, say, a LAN vLLM server.
func openAIOptions(o Options) []option.RequestOption {
	opts := []option.RequestOption{
		option.WithEnvironmentProduction(),
		option.WithHTTPClient(o.httpClient()),
		option.WithMaxRetries(0), // Run retries, with failover in mind
		option.WithMiddleware(httpErrorMiddleware(o.ID)),
	}
	if o.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(o.BaseURL))
	}
	if o.APIKey != "" {
		opts = append(opts, option.WithAPIKey(o.APIKey))
	}
	return opts
}

// ID implements Provider.
func (p *OpenAIChat) ID() string { return p.id }

// API implements Provider.
func (p *OpenAIChat) API() string { return APIOpenAICompletions }

// Stream implements Provider.
func (p *OpenAIChat) Stream(ctx context.Context, req Request, onEvent func(Event) error) (*Response, error) {
	stream := p.svc.NewStreaming(ctx, p.params(req))
	defer stream.Close()

	resp := &Response{Provider: p.id, Model: req.Model, API: APIOpenAICompletions}
	var text strings.Builder
	type pending struct {
		id, name string
		args     strings.Builder
	}
	calls := map[int64]*pending{}
	finish := ""

	for stream.Next() {
		ch := stream.Current()
		if ch.Model != "" {
			resp.Model = ch.Model
		}
		// With include_usage the usage arrives in a last chunk with no
		// choices; every other chunk has "usage": null.
		if ch.JSON.Usage.Valid() {
			resp.Usage = openAIUsage(ch.Usage)
		}
		for _, c := range ch.Choices {
			if c.Index != 0 {
				continue // n is always 1; ignore anything else
			}
			if d := c.Delta.Content; d != "" {
				text.WriteString(d)
				if err := onEvent(Event{TextDelta: d}); err != nil {
					return nil, err
				}
			}
			if f, ok := c.Delta.JSON.ExtraFields["images"]; ok {
				resp.Images = append(resp.Images, deltaImages(f.Raw())...)
			}
			for _, tc := range c.Delta.ToolCalls {
				pc := calls[tc.Index]
				if pc == nil {
					pc = &pending{}
					calls[tc.Index] = pc
				}
				if tc.ID != "" {
					pc.id = tc.ID
				}
				if tc.Function.Name != "" && pc.name == "" {
					pc.name = tc.Function.Name
				}
				pc.args.WriteString(tc.Function.Arguments)
			}
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, p.mapError(err)
	}
	if finish == "" {
		return nil, fmt.Errorf("%s: %w", p.id, errStreamTruncated)
	}

	idx := make([]int64, 0, len(calls))
	for i := range calls {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	for _, i := range idx {
		pc := calls[i]
		args, err := argumentsJSON(pc.args.String())
		if err != nil {
			return nil, fmt.Errorf("%s: tool %s: %w", p.id, pc.name, err)
		}
		if pc.id == "" {
			pc.id = newCallID()
		}
		call := ToolCall{ID: pc.id, Name: pc.name, Arguments: args}
		resp.ToolCalls = append(resp.ToolCalls, call)
		if err := onEvent(Event{ToolCall: &call}); err != nil {
			return nil, err
		}
	}
	resp.Text = text.String()
	resp.StopReason = openAIFinishReason(finish)
	if len(resp.ToolCalls) > 0 && resp.StopReason == StopEnd {
		// Some compatible servers say "stop" after a tool call.
		resp.StopReason = StopToolUse
	}
	return resp, nil
}

func openAIFinishReason(r string) string {
	switch r {
	case "stop":
		return StopEnd
	case "tool_calls", "function_call":
		return StopToolUse
	case "length":
		return StopMaxTokens
	}
	return r // content_filter …
}

// openAIUsage reports cached prompt tokens apart from the rest, as
// Anthropic does: prompt_tokens includes them.
func openAIUsage(u openai.CompletionUsage) Usage {
	cached := int(u.PromptTokensDetails.CachedTokens)
	written := int(u.PromptTokensDetails.CacheWriteTokens)
	return Usage{
		Input:      max(int(u.PromptTokens)-cached-written, 0),
		Output:     int(u.CompletionTokens),
		CacheRead:  cached,
		CacheWrite: written,
	}
}

// mapError turns an error reported inside the stream ({"error":{…}} in a
// data line) into an *APIError.
func (p *OpenAIChat) mapError(err error) error {
	return openAIStreamError(p.id, err)
}

func openAIStreamError(id string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		var env struct {
			Error json.RawMessage `json:"error"`
		}
		_ = json.Unmarshal(se.Event.Data, &env)
		var obj struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		}
		if json.Unmarshal(env.Error, &obj) != nil || obj.Message == "" {
			var s string
			if json.Unmarshal(env.Error, &s) == nil {
				obj.Message = s
			} else {
				obj.Message = strings.TrimSpace(string(env.Error))
			}
		}
		code := ""
		switch c := obj.Code.(type) {
		case string:
			code = c
		case float64:
			code = fmt.Sprint(int(c))
		}
		return &APIError{Provider: id, Status: openAIErrorStatus(code, obj.Type), Message: obj.Message}
	}
	return fmt.Errorf("%s: %w", id, err)
}

func (p *OpenAIChat) params(req Request) openai.ChatCompletionNewParams {
	params := openai.ChatCompletionNewParams{
		Model:         shared.ChatModel(req.Model),
		Messages:      openAIChatMessages(req.System, req.Messages),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	if req.MaxTokens > 0 {
		// OpenAI deprecated max_tokens (its reasoning models refuse it);
		// compatible servers mostly know only max_tokens.
		if p.native {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
		} else {
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	for _, t := range req.Tools {
		fd := shared.FunctionDefinitionParam{Name: t.Name, Parameters: shared.FunctionParameters(schemaMap(t.Parameters))}
		if t.Description != "" {
			fd.Description = openai.String(t.Description)
		}
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	return params
}

// openAIChatMessages converts the conversation. Text-only turns are sent as
// plain strings, which every compatible server understands; a tool
// result's images follow it in a user turn, as tool messages carry text
// only.
func openAIChatMessages(system string, msgs []Message) []openai.ChatCompletionMessageParamUnion {
	var out []openai.ChatCompletionMessageParamUnion
	if system != "" {
		out = append(out, openai.SystemMessage(system))
	}
	for _, m := range msgs {
		switch m.Role {
		case RoleAssistant:
			var a openai.ChatCompletionAssistantMessageParam
			if t := textOf(m.Content); t != "" {
				a.Content.OfString = openai.String(t)
			}
			for _, c := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID: c.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name:      c.Name,
							Arguments: argumentsOrEmpty(c.Arguments),
						},
					},
				})
			}
			if a.Content.OfString.Valid() || len(a.ToolCalls) > 0 {
				out = append(out, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
			}
		case RoleTool:
			t := textOf(m.Content)
			if m.IsError && t == "" {
				t = "error"
			}
			out = append(out, openai.ToolMessage(t, m.ToolCallID))
			if hasImage(m.Content) {
				parts := []openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("Images returned by the tool call " + m.ToolCallID + ":")}
				parts = append(parts, openAIImageParts(m.Content)...)
				out = append(out, openai.UserMessage(parts))
			}
		default:
			if !hasImage(m.Content) {
				if t := textOf(m.Content); t != "" {
					out = append(out, openai.UserMessage(t))
				}
				continue
			}
			var parts []openai.ChatCompletionContentPartUnionParam
			for _, p := range m.Content {
				switch {
				case p.Type == "text" && p.Text != "":
					parts = append(parts, openai.TextContentPart(p.Text))
				case p.Type == "image" && len(p.Data) > 0:
					parts = append(parts, openAIImageParts([]Part{p})...)
				}
			}
			out = append(out, openai.UserMessage(parts))
		}
	}
	return out
}

func openAIImageParts(content []Part) []openai.ChatCompletionContentPartUnionParam {
	var parts []openai.ChatCompletionContentPartUnionParam
	for _, p := range content {
		if p.Type == "image" && len(p.Data) > 0 {
			parts = append(parts, openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: dataURL(p)}))
		}
	}
	return parts
}
