package providers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// responsesSSE writes the Responses API stream: "event: <type>" then the
// data, whose "type" repeats it.
func responsesSSE(datas ...string) http.HandlerFunc {
	return anthropicSSE(datas...)
}

// Events as the Responses API streams them
// (https://platform.openai.com/docs/api-reference/responses-streaming).
var responsesTextStream = responsesSSE(
	`{"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9","object":"response","created_at":1741290958,"status":"in_progress","error":null,"incomplete_details":null,"instructions":"Be brief.","max_output_tokens":null,"model":"gpt-4.1-2025-04-14","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":null,"user":null,"metadata":{}}}`,
	`{"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_67c9","object":"response","created_at":1741290958,"status":"in_progress","error":null,"incomplete_details":null,"model":"gpt-4.1-2025-04-14","output":[],"usage":null}}`,
	`{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_67c9","type":"message","status":"in_progress","role":"assistant","content":[]}}`,
	`{"type":"response.content_part.added","sequence_number":3,"item_id":"msg_67c9","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}`,
	`{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_67c9","output_index":0,"content_index":0,"delta":"Hi","logprobs":[]}`,
	`{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_67c9","output_index":0,"content_index":0,"delta":" there!","logprobs":[]}`,
	`{"type":"response.output_text.done","sequence_number":6,"item_id":"msg_67c9","output_index":0,"content_index":0,"text":"Hi there!","logprobs":[]}`,
	`{"type":"response.content_part.done","sequence_number":7,"item_id":"msg_67c9","output_index":0,"content_index":0,"part":{"type":"output_text","text":"Hi there!","annotations":[]}}`,
	`{"type":"response.output_item.done","sequence_number":8,"output_index":0,"item":{"id":"msg_67c9","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there!","annotations":[]}]}}`,
	`{"type":"response.completed","sequence_number":9,"response":{"id":"resp_67c9","object":"response","created_at":1741290958,"status":"completed","error":null,"incomplete_details":null,"instructions":"Be brief.","max_output_tokens":null,"model":"gpt-4.1-2025-04-14","output":[{"id":"msg_67c9","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there!","annotations":[]}]}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":{"input_tokens":2037,"input_tokens_details":{"cached_tokens":1920},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":2048},"user":null,"metadata":{}}}`,
)

var responsesToolStream = responsesSSE(
	`{"type":"response.created","sequence_number":0,"response":{"id":"resp_1234xyz","object":"response","created_at":1,"status":"in_progress","error":null,"incomplete_details":null,"model":"gpt-4.1","output":[],"usage":null}}`,
	`{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"function_call","id":"fc_1234xyz","call_id":"call_1234xyz","name":"get_weather","arguments":"","status":"in_progress"}}`,
	`{"type":"response.function_call_arguments.delta","sequence_number":2,"item_id":"fc_1234xyz","output_index":0,"delta":"{\""}`,
	`{"type":"response.function_call_arguments.delta","sequence_number":3,"item_id":"fc_1234xyz","output_index":0,"delta":"location\":\"Paris"}`,
	`{"type":"response.function_call_arguments.delta","sequence_number":4,"item_id":"fc_1234xyz","output_index":0,"delta":", France\"}"}`,
	`{"type":"response.function_call_arguments.done","sequence_number":5,"item_id":"fc_1234xyz","output_index":0,"arguments":"{\"location\":\"Paris, France\"}"}`,
	`{"type":"response.output_item.done","sequence_number":6,"output_index":0,"item":{"type":"function_call","id":"fc_1234xyz","call_id":"call_1234xyz","name":"get_weather","arguments":"{\"location\":\"Paris, France\"}","status":"completed"}}`,
	`{"type":"response.completed","sequence_number":7,"response":{"id":"resp_1234xyz","object":"response","created_at":1,"status":"completed","error":null,"incomplete_details":null,"model":"gpt-4.1","output":[{"type":"function_call","id":"fc_1234xyz","call_id":"call_1234xyz","name":"get_weather","arguments":"{\"location\":\"Paris, France\"}","status":"completed"}],"usage":{"input_tokens":291,"input_tokens_details":{"cached_tokens":0},"output_tokens":23,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":314}}}`,
)

func TestResponsesStreamsTextAndUsage(t *testing.T) {
	f := newFake(t, responsesTextStream)
	p := NewOpenAIResponses(Options{ID: "lmstudio", BaseURL: f.URL + "/v1", APIKey: "lm"})
	var c collector
	resp, err := p.Stream(context.Background(), Request{
		Model: "gpt-4.1", System: "Be brief.", MaxTokens: 256,
		Messages: []Message{userText("Hi"), {Role: RoleAssistant, Content: []Part{{Type: "text", Text: "Hello."}}}, userText("Again")},
	}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if c.text.String() != "Hi there!" || resp.Text != "Hi there!" || c.n != 2 {
		t.Fatalf("text %q / %q (%d events)", c.text.String(), resp.Text, c.n)
	}
	if want := (Usage{Input: 117, Output: 11, CacheRead: 1920}); resp.Usage != want {
		t.Fatalf("usage %+v, want %+v", resp.Usage, want)
	}
	if resp.StopReason != StopEnd || resp.Model != "gpt-4.1-2025-04-14" || resp.API != APIOpenAIResponses || resp.Provider != "lmstudio" {
		t.Fatalf("response %+v", resp)
	}
	r := f.requests()[0]
	if r.Path != "/v1/responses" || r.Header.Get("Authorization") != "Bearer lm" {
		t.Fatalf("path %s auth %q", r.Path, r.Header.Get("Authorization"))
	}
	body := r.JSON(t)
	if body["stream"] != true || body["max_output_tokens"] != float64(256) {
		t.Fatalf("body %v", body)
	}
	// Not api.openai.com: the system prompt travels as a system message,
	// and no store field is sent.
	if body["instructions"] != nil || body["store"] != nil {
		t.Fatalf("instructions %v store %v", body["instructions"], body["store"])
	}
	in := body["input"].([]any)
	if dig(t, in, 0, "role") != "system" || dig(t, in, 0, "content") != "Be brief." ||
		dig(t, in, 1, "role") != "user" || dig(t, in, 1, "content", 0, "type") != "input_text" || dig(t, in, 1, "content", 0, "text") != "Hi" ||
		dig(t, in, 2, "role") != "assistant" || dig(t, in, 2, "content") != "Hello." {
		t.Fatalf("input %v", in)
	}
}

func TestResponsesFunctionCallArgumentsInChunks(t *testing.T) {
	f := newFake(t, responsesToolStream)
	p := NewOpenAIResponses(Options{BaseURL: f.URL + "/v1"})
	var c collector
	resp, err := p.Stream(context.Background(), Request{
		Model: "gpt-4.1", Messages: []Message{userText("Weather in Paris?")},
		Tools: []Tool{{Name: "get_weather", Description: "Weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)}},
	}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != 1 || len(resp.ToolCalls) != 1 {
		t.Fatalf("calls %v / %v", c.calls, resp.ToolCalls)
	}
	call := resp.ToolCalls[0]
	if call.ID != "call_1234xyz" || call.Name != "get_weather" || string(call.Arguments) != `{"location":"Paris, France"}` {
		t.Fatalf("call %+v (%s)", call, call.Arguments)
	}
	if resp.StopReason != StopToolUse || resp.Usage != (Usage{Input: 291, Output: 23}) {
		t.Fatalf("response %+v", resp)
	}
	tool := dig(t, f.requests()[0].JSON(t), "tools", 0)
	if dig(t, tool, "type") != "function" || dig(t, tool, "name") != "get_weather" || dig(t, tool, "strict") != false ||
		dig(t, tool, "parameters", "required", 0) != "location" {
		t.Fatalf("tool %v", tool)
	}
}

func TestResponsesImagesAndToolHistoryInRequest(t *testing.T) {
	f := newFake(t, responsesTextStream)
	p := NewOpenAIResponses(Options{BaseURL: f.URL + "/v1"})
	_, err := p.Stream(context.Background(), Request{
		Model: "gpt-4.1",
		Messages: []Message{
			{Role: RoleUser, Content: []Part{{Type: "text", Text: "What is it?"}, {Type: "image", MediaType: "image/png", Data: pngBytes}}},
			{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "call_9", Name: "zoom", Arguments: json.RawMessage(`{"f":2}`)}}},
			{Role: RoleTool, ToolCallID: "call_9", Content: []Part{{Type: "text", Text: "zoomed"}}},
			{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "call_10", Name: "shot"}}},
			{Role: RoleTool, ToolCallID: "call_10", Content: []Part{{Type: "image", Data: pngBytes}}},
		},
	}, func(Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	in := f.requests()[0].JSON(t)["input"].([]any)
	if len(in) != 5 {
		t.Fatalf("input %v", in)
	}
	wantURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes)
	img := dig(t, in, 0, "content", 1)
	if dig(t, img, "type") != "input_image" || dig(t, img, "image_url") != wantURL || dig(t, img, "detail") != "auto" {
		t.Fatalf("image %v", img)
	}
	if dig(t, in, 1, "type") != "function_call" || dig(t, in, 1, "call_id") != "call_9" || dig(t, in, 1, "name") != "zoom" || dig(t, in, 1, "arguments") != `{"f":2}` {
		t.Fatalf("function_call %v", in[1])
	}
	if dig(t, in, 2, "type") != "function_call_output" || dig(t, in, 2, "call_id") != "call_9" || dig(t, in, 2, "output") != "zoomed" {
		t.Fatalf("function_call_output %v", in[2])
	}
	if dig(t, in, 3, "arguments") != "{}" {
		t.Fatalf("empty arguments %v", in[3])
	}
	if dig(t, in, 4, "output", 0, "type") != "input_image" || dig(t, in, 4, "output", 0, "image_url") != wantURL {
		t.Fatalf("image output %v", in[4])
	}
}

func TestResponsesNativeSendsInstructionsAndStore(t *testing.T) {
	p := NewOpenAIResponses(Options{APIKey: "k"})
	b, err := json.Marshal(p.params(Request{Model: "gpt-5", System: "sys", Messages: []Message{userText("x")}}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["instructions"] != "sys" || m["store"] != false || len(m["input"].([]any)) != 1 {
		t.Fatalf("body %s", b)
	}
}

func TestResponsesFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []string
		status int
		msg    string
	}{
		{"failed", []string{
			`{"type":"response.created","sequence_number":0,"response":{"id":"resp_123","object":"response","created_at":1,"status":"in_progress","error":null,"model":"gpt-4.1","output":[]}}`,
			`{"type":"response.failed","sequence_number":1,"response":{"id":"resp_123","object":"response","created_at":1,"status":"failed","error":{"code":"server_error","message":"The model failed to generate a response."},"incomplete_details":null,"model":"gpt-4.1","output":[],"usage":null}}`,
		}, 500, "server_error: The model failed to generate a response."},
		{"error", []string{
			`{"type":"error","code":"rate_limit_exceeded","message":"Rate limit reached for gpt-4.1","param":null,"sequence_number":1}`,
		}, 429, "rate_limit_exceeded: Rate limit reached for gpt-4.1"},
		{"invalid", []string{
			`{"type":"error","code":"invalid_prompt","message":"Invalid prompt","param":null,"sequence_number":1}`,
		}, 400, "invalid_prompt: Invalid prompt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, responsesSSE(tc.events...))
			p := NewOpenAIResponses(Options{BaseURL: f.URL + "/v1"})
			_, err := p.Stream(context.Background(), Request{Model: "gpt-4.1", Messages: []Message{userText("x")}}, func(Event) error { return nil })
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Message != tc.msg {
				t.Fatalf("err %v (%#v)", err, ae)
			}
		})
	}
}

func TestResponsesIncompleteIsMaxTokens(t *testing.T) {
	f := newFake(t, responsesSSE(
		`{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Once upon","logprobs":[]}`,
		`{"type":"response.incomplete","sequence_number":2,"response":{"id":"resp_1","object":"response","created_at":1,"status":"incomplete","error":null,"incomplete_details":{"reason":"max_output_tokens"},"model":"gpt-4.1","output":[],"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":26}}}`,
	))
	p := NewOpenAIResponses(Options{BaseURL: f.URL + "/v1"})
	resp, err := p.Stream(context.Background(), Request{Model: "gpt-4.1", MaxTokens: 16, Messages: []Message{userText("x")}}, func(Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != StopMaxTokens || resp.Text != "Once upon" || resp.Usage.Output != 16 {
		t.Fatalf("response %+v", resp)
	}
}
