package providers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

// Streams as the Messages API documents them
// (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
var anthropicTextStream = anthropicSSE(
	`{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}`,
	`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	`{"type":"ping"}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", world"}}`,
	`{"type":"content_block_stop","index":0}`,
	`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}`,
	`{"type":"message_stop"}`,
)

var anthropicToolStream = anthropicSSE(
	`{"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2}}}`,
	`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check."}}`,
	`{"type":"content_block_stop","index":0}`,
	`{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Fra"}}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\", \"unit\": \"fahrenheit\"}"}}`,
	`{"type":"content_block_stop","index":1}`,
	`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}`,
	`{"type":"message_stop"}`,
)

func TestAnthropicStreamsText(t *testing.T) {
	f := newFake(t, anthropicTextStream)
	p := NewAnthropic(Options{BaseURL: f.URL, APIKey: "sk-ant-test"})
	var c collector
	resp, err := p.Stream(context.Background(), Request{
		Model: "claude-sonnet-4-5", System: "Be brief.",
		Messages: []Message{userText("Hi")},
	}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if c.text.String() != "Hello, world" || resp.Text != "Hello, world" {
		t.Fatalf("text: streamed %q, response %q", c.text.String(), resp.Text)
	}
	if c.n != 2 {
		t.Fatalf("want 2 text deltas, got %d events", c.n)
	}
	want := Usage{Input: 25, Output: 15, CacheRead: 2000, CacheWrite: 100}
	if resp.Usage != want {
		t.Fatalf("usage %+v, want %+v", resp.Usage, want)
	}
	if resp.StopReason != StopEnd || resp.Model != "claude-sonnet-4-5-20250929" || resp.Provider != "anthropic" || resp.API != APIAnthropicMessages {
		t.Fatalf("response %+v", resp)
	}

	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/messages" {
		t.Fatalf("requests %+v", reqs)
	}
	h := reqs[0].Header
	if h.Get("X-Api-Key") != "sk-ant-test" || h.Get("Anthropic-Version") == "" {
		t.Fatalf("headers: x-api-key %q anthropic-version %q", h.Get("X-Api-Key"), h.Get("Anthropic-Version"))
	}
	body := reqs[0].JSON(t)
	if body["stream"] != true || body["model"] != "claude-sonnet-4-5" || body["max_tokens"] != float64(DefaultAnthropicMaxTokens) {
		t.Fatalf("body %v", body)
	}
	if dig(t, body, "system", 0, "text") != "Be brief." {
		t.Fatalf("system %v", body["system"])
	}
	if dig(t, body, "messages", 0, "role") != "user" || dig(t, body, "messages", 0, "content", 0, "text") != "Hi" {
		t.Fatalf("messages %v", body["messages"])
	}
}

func TestAnthropicToolCallAcrossDeltas(t *testing.T) {
	f := newFake(t, anthropicToolStream)
	p := NewAnthropic(Options{BaseURL: f.URL, APIKey: "k"})
	var c collector
	resp, err := p.Stream(context.Background(), Request{
		Model:    "claude-sonnet-4-5",
		Messages: []Message{userText("Weather in SF?")},
		Tools: []Tool{{
			Name: "get_weather", Description: "Current weather",
			Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"],"additionalProperties":false}`),
		}},
	}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != 1 || len(resp.ToolCalls) != 1 {
		t.Fatalf("tool calls: streamed %v, response %v", c.calls, resp.ToolCalls)
	}
	call := resp.ToolCalls[0]
	if call.ID != "toolu_01T1x1fJ34qAmk2tNTrN7Up6" || call.Name != "get_weather" {
		t.Fatalf("call %+v", call)
	}
	var args map[string]string
	if err := json.Unmarshal(call.Arguments, &args); err != nil || args["location"] != "San Francisco, CA" || args["unit"] != "fahrenheit" {
		t.Fatalf("arguments %s (%v)", call.Arguments, err)
	}
	if resp.Text != "Let me check." || resp.StopReason != StopToolUse || resp.Usage.Output != 89 || resp.Usage.Input != 472 {
		t.Fatalf("response %+v", resp)
	}
	tool := dig(t, f.requests()[0].JSON(t), "tools", 0)
	if dig(t, tool, "name") != "get_weather" || dig(t, tool, "input_schema", "type") != "object" ||
		dig(t, tool, "input_schema", "required", 0) != "location" ||
		dig(t, tool, "input_schema", "additionalProperties") != false ||
		dig(t, tool, "input_schema", "properties", "unit", "enum", 1) != "fahrenheit" {
		t.Fatalf("tool %v", tool)
	}
}

func TestAnthropicImageAndToolResultsInRequest(t *testing.T) {
	f := newFake(t, anthropicTextStream)
	p := NewAnthropic(Options{BaseURL: f.URL})
	_, err := p.Stream(context.Background(), Request{
		Model: "claude-sonnet-4-5",
		Messages: []Message{
			{Role: RoleUser, Content: []Part{{Type: "text", Text: "What is this?"}, {Type: "image", MediaType: "image/png", Data: pngBytes}}},
			{Role: RoleAssistant, Content: []Part{{Type: "text", Text: "Checking."}}, ToolCalls: []ToolCall{
				{ID: "toolu_a", Name: "look", Arguments: json.RawMessage(`{"x":1}`)},
				{ID: "call|b", Name: "look", Arguments: nil},
			}},
			{Role: RoleTool, ToolCallID: "toolu_a", Content: []Part{{Type: "text", Text: "a cat"}}},
			{Role: RoleTool, ToolCallID: "call|b", IsError: true, Content: []Part{{Type: "text", Text: "boom"}, {Type: "image", Data: pngBytes}}},
		},
	}, func(Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	body := f.requests()[0].JSON(t)
	if f.requests()[0].Header.Get("X-Api-Key") != "" {
		t.Fatal("a key was sent though none was configured")
	}
	msgs := body["messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("want user, assistant, user(tool results); got %d: %v", len(msgs), msgs)
	}
	img := dig(t, msgs[0], "content", 1)
	if dig(t, img, "type") != "image" || dig(t, img, "source", "type") != "base64" ||
		dig(t, img, "source", "media_type") != "image/png" ||
		dig(t, img, "source", "data") != base64.StdEncoding.EncodeToString(pngBytes) {
		t.Fatalf("image block %v", img)
	}
	use := dig(t, msgs[1], "content", 1)
	if dig(t, use, "type") != "tool_use" || dig(t, use, "id") != "toolu_a" || dig(t, use, "input", "x") != float64(1) {
		t.Fatalf("tool_use %v", use)
	}
	if id := dig(t, msgs[1], "content", 2, "id"); id != "call_b" {
		t.Fatalf("foreign tool id not sanitised: %v", id)
	}
	if in := dig(t, msgs[1], "content", 2, "input"); len(in.(map[string]any)) != 0 {
		t.Fatalf("empty arguments should be {}: %v", in)
	}
	r1, r2 := dig(t, msgs[2], "content", 0), dig(t, msgs[2], "content", 1)
	if dig(t, r1, "type") != "tool_result" || dig(t, r1, "tool_use_id") != "toolu_a" || dig(t, r1, "content", 0, "text") != "a cat" {
		t.Fatalf("tool_result %v", r1)
	}
	if dig(t, r2, "is_error") != true || dig(t, r2, "tool_use_id") != "call_b" ||
		dig(t, r2, "content", 1, "type") != "image" || dig(t, r2, "content", 1, "source", "media_type") != "image/png" {
		t.Fatalf("error tool_result %v", r2)
	}
	// The end of the conversation is a cache breakpoint.
	if dig(t, r2, "cache_control", "type") != "ephemeral" {
		t.Fatalf("no cache_control on the last block: %v", r2)
	}
}

func TestAnthropicErrorEventInStream(t *testing.T) {
	f := newFake(t, anthropicSSE(
		`{"type":"message_start","message":{"id":"msg_03","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}`,
		`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
	))
	p := NewAnthropic(Options{BaseURL: f.URL, APIKey: "k"})
	_, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil })
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 529 || !ae.Retryable() || ae.Message != "overloaded_error: Overloaded" {
		t.Fatalf("err %v (%#v)", err, ae)
	}
}

func TestAnthropicHTTPErrorBecomesAPIError(t *testing.T) {
	f := newFake(t, jsonError(429, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`, "Retry-After", "17"))
	p := NewAnthropic(Options{ID: "claude-proxy", BaseURL: f.URL, APIKey: "k"})
	_, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil })
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != 17 || ae.Provider != "claude-proxy" {
		t.Fatalf("err %v (%#v)", err, ae)
	}
	if ae.Message != "rate_limit_error: Number of request tokens has exceeded your per-minute rate limit" {
		t.Fatalf("message %q", ae.Message)
	}
	if f.count() != 1 {
		t.Fatalf("the SDK retried on its own: %d requests", f.count())
	}
}

func TestAnthropicTruncatedStreamIsRetryable(t *testing.T) {
	f := newFake(t, anthropicSSE(
		`{"type":"message_start","message":{"id":"msg_04","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	))
	p := NewAnthropic(Options{BaseURL: f.URL})
	_, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil })
	if err == nil || !Retryable(err) {
		t.Fatalf("err %v, retryable %v", err, Retryable(err))
	}
}

func TestAnthropicIgnoresSDKEnvironment(t *testing.T) {
	f := newFake(t, anthropicTextStream)
	t.Setenv("ANTHROPIC_API_KEY", "sk-from-env")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1") // would fail if used
	p := NewAnthropic(Options{BaseURL: f.URL, APIKey: "sk-configured"})
	if _, err := p.Stream(context.Background(), Request{Model: "m", Messages: []Message{userText("x")}}, func(Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if k := f.requests()[0].Header.Get("X-Api-Key"); k != "sk-configured" {
		t.Fatalf("x-api-key %q", k)
	}
}

func TestAnthropicStopReasons(t *testing.T) {
	for in, want := range map[string]string{"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_use", "max_tokens": "max_tokens", "refusal": "refusal"} {
		if got := anthropicStopReason(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}
