package providers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

// Chunks as Chat Completions streams them
// (https://platform.openai.com/docs/api-reference/chat-streaming).
var chatTextStream = chatSSE(
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":7,"total_tokens":1207,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
)

// Two parallel calls whose arguments arrive in pieces, interleaved.
var chatToolStream = chatSSE(
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"lo"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"cation\": \"Par"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2nd","type":"function","function":{"name":"get_time","arguments":"{\"tz\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"is\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"CET\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}`,
	`{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":80,"completion_tokens":40,"total_tokens":120}}`,
)

func TestChatStreamsTextAndUsage(t *testing.T) {
	f := newFake(t, chatTextStream)
	p := NewOpenAIChat(Options{BaseURL: f.URL + "/v1", APIKey: "sk-test"})
	var c collector
	temp := 0.5
	resp, err := p.Stream(context.Background(), Request{
		Model: "gpt-4.1", System: "Be brief.", MaxTokens: 300, Temperature: &temp,
		Messages: []Message{userText("Hi")},
	}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if c.text.String() != "Hello there" || resp.Text != "Hello there" {
		t.Fatalf("text %q / %q", c.text.String(), resp.Text)
	}
	if want := (Usage{Input: 176, Output: 7, CacheRead: 1024}); resp.Usage != want {
		t.Fatalf("usage %+v, want %+v", resp.Usage, want)
	}
	if resp.StopReason != StopEnd || resp.Model != "gpt-4.1-2025-04-14" || resp.API != APIOpenAICompletions {
		t.Fatalf("response %+v", resp)
	}
	r := f.requests()[0]
	if r.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-test" {
		t.Fatalf("path %s auth %q", r.Path, r.Header.Get("Authorization"))
	}
	body := r.JSON(t)
	if body["stream"] != true || dig(t, body, "stream_options", "include_usage") != true || body["temperature"] != 0.5 {
		t.Fatalf("body %v", body)
	}
	// A compatible server (not api.openai.com) gets max_tokens.
	if body["max_tokens"] != float64(300) || body["max_completion_tokens"] != nil {
		t.Fatalf("token limit fields %v / %v", body["max_tokens"], body["max_completion_tokens"])
	}
	if dig(t, body, "messages", 0, "role") != "system" || dig(t, body, "messages", 0, "content") != "Be brief." ||
		dig(t, body, "messages", 1, "role") != "user" || dig(t, body, "messages", 1, "content") != "Hi" {
		t.Fatalf("messages %v", body["messages"])
	}
}

func TestChatToolCallsAccumulateByIndex(t *testing.T) {
	f := newFake(t, chatToolStream)
	p := NewOpenAIChat(Options{ID: "vllm", BaseURL: f.URL + "/v1"})
	var c collector
	resp, err := p.Stream(context.Background(), Request{
		Model: "qwen", Messages: []Message{userText("Weather and time in Paris?")},
		Tools: []Tool{{Name: "get_weather", Description: "Weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`)}, {Name: "get_time"}},
	}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != 2 || len(resp.ToolCalls) != 2 {
		t.Fatalf("calls %v / %v", c.calls, resp.ToolCalls)
	}
	a, b := resp.ToolCalls[0], resp.ToolCalls[1]
	if a.ID != "call_DdmO9pD3xa9XTPNJ32zg2hcA" || a.Name != "get_weather" || string(a.Arguments) != `{"location": "Paris"}` {
		t.Fatalf("first call %+v (%s)", a, a.Arguments)
	}
	if b.ID != "call_2nd" || b.Name != "get_time" || string(b.Arguments) != `{"tz":"CET"}` {
		t.Fatalf("second call %+v (%s)", b, b.Arguments)
	}
	if resp.StopReason != StopToolUse || resp.Usage != (Usage{Input: 80, Output: 40}) || resp.Provider != "vllm" {
		t.Fatalf("response %+v", resp)
	}
	body := f.requests()[0].JSON(t)
	if dig(t, body, "tools", 0, "type") != "function" || dig(t, body, "tools", 0, "function", "name") != "get_weather" ||
		dig(t, body, "tools", 0, "function", "parameters", "properties", "location", "type") != "string" ||
		dig(t, body, "tools", 1, "function", "parameters", "type") != "object" {
		t.Fatalf("tools %v", body["tools"])
	}
	if f.requests()[0].Header.Get("Authorization") != "" {
		t.Fatal("keyless provider sent Authorization")
	}
}

func TestChatImagesAndToolResultsInRequest(t *testing.T) {
	f := newFake(t, chatTextStream)
	p := NewOpenAIChat(Options{BaseURL: f.URL + "/v1"})
	_, err := p.Stream(context.Background(), Request{
		Model: "llava",
		Messages: []Message{
			{Role: RoleUser, Content: []Part{{Type: "text", Text: "Describe"}, {Type: "image", MediaType: "image/png", Data: pngBytes}}},
			{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "call_1", Name: "shot", Arguments: json.RawMessage(`{"w":2}`)}}},
			{Role: RoleTool, ToolCallID: "call_1", Content: []Part{{Type: "text", Text: "taken"}, {Type: "image", Data: pngBytes}}},
		},
	}, func(Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.requests()[0].JSON(t)["messages"].([]any)
	if len(msgs) != 4 {
		t.Fatalf("want user, assistant, tool, user(images); got %v", msgs)
	}
	wantURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes)
	if dig(t, msgs[0], "content", 0, "type") != "text" || dig(t, msgs[0], "content", 1, "type") != "image_url" ||
		dig(t, msgs[0], "content", 1, "image_url", "url") != wantURL {
		t.Fatalf("user content %v", msgs[0])
	}
	tc := dig(t, msgs[1], "tool_calls", 0)
	if dig(t, msgs[1], "role") != "assistant" || dig(t, tc, "id") != "call_1" || dig(t, tc, "type") != "function" ||
		dig(t, tc, "function", "arguments") != `{"w":2}` {
		t.Fatalf("assistant %v", msgs[1])
	}
	if dig(t, msgs[2], "role") != "tool" || dig(t, msgs[2], "tool_call_id") != "call_1" || dig(t, msgs[2], "content") != "taken" {
		t.Fatalf("tool %v", msgs[2])
	}
	if dig(t, msgs[3], "role") != "user" || dig(t, msgs[3], "content", 1, "image_url", "url") != wantURL {
		t.Fatalf("tool images %v", msgs[3])
	}
}

func TestChatNativeOpenAIUsesMaxCompletionTokens(t *testing.T) {
	p := NewOpenAIChat(Options{})
	b, err := json.Marshal(p.params(Request{Model: "o4-mini", MaxTokens: 100, Messages: []Message{userText("x")}}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["max_completion_tokens"] != float64(100) || m["max_tokens"] != nil {
		t.Fatalf("body %s", b)
	}
}

func TestChatErrorInsideStream(t *testing.T) {
	f := newFake(t, chatSSE(
		`{"id":"chatcmpl-3","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
		`{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`,
	))
	p := NewOpenAIChat(Options{BaseURL: f.URL + "/v1"})
	_, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil })
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || !ae.Retryable() || ae.Message != "The server had an error while processing your request. Sorry about that!" {
		t.Fatalf("err %v (%#v)", err, ae)
	}
}

func TestChatNonOpenAIErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"ollama", `{"error":"model \"llama9\" not found, try pulling it first"}`, 404, `model "llama9" not found, try pulling it first`},
		{"vllm", `{"object":"error","message":"The model does not exist.","type":"NotFoundError","param":null,"code":404}`, 404, "The model does not exist."},
		{"fastapi", `{"detail":"Not authenticated"}`, 401, "Not authenticated"},
		{"openai", `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, 401, "invalid_request_error: Incorrect API key provided"},
		{"text", `upstream connect error or disconnect/reset before headers`, 503, "upstream connect error or disconnect/reset before headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, jsonError(tc.status, tc.body))
			p := NewOpenAIChat(Options{ID: tc.name, BaseURL: f.URL + "/v1"})
			_, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil })
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Message != tc.want || ae.Provider != tc.name {
				t.Fatalf("err %v (%#v)", err, ae)
			}
			if f.count() != 1 {
				t.Fatalf("the SDK retried on its own: %d requests", f.count())
			}
		})
	}
}

func TestChatDoesNotLeakOpenAIEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-must-not-leak")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_ORG_ID", "org-leak")
	f := newFake(t, chatTextStream)
	p := NewOpenAIChat(Options{ID: "ollama", BaseURL: f.URL + "/v1"})
	if _, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	h := f.requests()[0].Header
	if h.Get("Authorization") != "" || h.Get("Openai-Organization") != "" {
		t.Fatalf("environment leaked: %v", h)
	}
}

func TestChatStreamWithoutFinishIsTruncated(t *testing.T) {
	f := newFake(t, sse(sseEvent{"", `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}`}))
	p := NewOpenAIChat(Options{BaseURL: f.URL + "/v1"})
	_, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil })
	if !errors.Is(err, errStreamTruncated) {
		t.Fatalf("err %v", err)
	}
}
