package openaicompat_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

const enabledHTTP = `gateway: {http: {endpoints: {chatCompletions: {enabled: true}, responses: {enabled: true}}}}`

func startModel(t *testing.T) *agenttest.Model {
	return agenttest.StartT(t)
}

// gatewayConfig is a config with the fake model and extra top-level keys.
func gatewayConfig(m *agenttest.Model, extra string) string {
	return fmt.Sprintf(`{models: {providers: {fake: {baseUrl: %q, apiKey: "test", api: "openai-completions",
  models: [{id: "fake-1", contextWindow: 128000}]}}},
  agents: {defaults: {model: {primary: "fake/fake-1"}}, entries: {main: {}, ops: {name: "Ops"}}}, %s}`, m.URL, extra)
}

func start(t *testing.T, extra string) (*agenttest.Model, *daemontest.Gateway, openai.Client) {
	t.Helper()
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, gatewayConfig(m, extra))
	c := openai.NewClient(option.WithBaseURL(g.HTTP+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0),
		option.WithRequestTimeout(20*time.Second))
	return m, g, c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// post sends a raw JSON request.
func post(t *testing.T, g *daemontest.Gateway, path, token string, body any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	return do(t, http.MethodPost, g.HTTP+path, token, rd, hdr)
}

func do(t *testing.T, method, url, token string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, data
}

// apiErr decodes an OpenAI error body.
func apiErr(t *testing.T, data []byte) (typ, msg string) {
	t.Helper()
	var e struct {
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal(data, &e); err != nil || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %s", data)
	}
	return e.Error.Type, e.Error.Message
}

// lastUserContent is the text and image parts of the model request's last
// user message.
func lastUserContent(req map[string]any) (text string, images []string) {
	msgs, _ := req["messages"].([]any)
	for i := len(msgs) - 1; i >= 0; i-- {
		m, _ := msgs[i].(map[string]any)
		if m["role"] != "user" {
			continue
		}
		switch c := m["content"].(type) {
		case string:
			return c, nil
		case []any:
			for _, p := range c {
				pm, _ := p.(map[string]any)
				switch pm["type"] {
				case "text":
					s, _ := pm["text"].(string)
					text += s
				case "image_url":
					iu, _ := pm["image_url"].(map[string]any)
					u, _ := iu["url"].(string)
					images = append(images, u)
				}
			}
		}
		return text, images
	}
	return "", nil
}

// transcript is the model request's messages as "role: text" lines.
func transcript(req map[string]any) string {
	var b strings.Builder
	msgs, _ := req["messages"].([]any)
	for _, x := range msgs {
		m, _ := x.(map[string]any)
		text := ""
		switch c := m["content"].(type) {
		case string:
			text = c
		case []any:
			for _, p := range c {
				if pm, _ := p.(map[string]any); pm["type"] == "text" {
					s, _ := pm["text"].(string)
					text += s
				}
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", m["role"], text)
	}
	return b.String()
}

func systemText(req map[string]any) string {
	msgs, _ := req["messages"].([]any)
	var out []string
	for _, x := range msgs {
		m, _ := x.(map[string]any)
		if m["role"] == "system" || m["role"] == "developer" {
			s, _ := m["content"].(string)
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}

func lastRequest(t *testing.T, m *agenttest.Model) map[string]any {
	t.Helper()
	reqs := m.Requests()
	if len(reqs) == 0 {
		t.Fatal("the model got no request")
	}
	return reqs[len(reqs)-1]
}

func TestDisabledByDefault(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, gatewayConfig(m, ""))
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/v1/chat/completions"},
		{http.MethodPost, "/v1/responses"},
		{http.MethodGet, "/v1/models"},
		{http.MethodGet, "/v1/models/openclaw"},
		{http.MethodGet, "/v1/chat/completions"},
	} {
		res, body := do(t, c.method, g.HTTP+c.path, g.Token, strings.NewReader(`{"model":"openclaw","messages":[{"role":"user","content":"hi"}]}`), nil)
		if res.StatusCode != http.StatusNotFound || string(body) != "Not Found" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s %s = %d %q (%s)", c.method, c.path, res.StatusCode, body, res.Header.Get("Content-Type"))
		}
	}
	if m.Calls() != 0 {
		t.Fatalf("a disabled endpoint ran the model %d times", m.Calls())
	}
}

func TestOnlyResponsesEnabled(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, gatewayConfig(m, `gateway: {http: {endpoints: {responses: {enabled: true}}}}`))
	res, _ := post(t, g, "/v1/chat/completions", g.Token, `{"messages":[{"role":"user","content":"hi"}]}`, nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("chat completions with only responses enabled = %d", res.StatusCode)
	}
	res, body := do(t, http.MethodGet, g.HTTP+"/v1/models", g.Token, nil, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"openclaw/default"`) {
		t.Fatalf("models with responses enabled = %d %s", res.StatusCode, body)
	}
}

func TestAuth(t *testing.T) {
	m := startModel(t)
	cfg := gatewayConfig(m, enabledHTTP)
	body := `{"model":"openclaw","messages":[{"role":"user","content":"hi"}]}`
	// Each case gets its own gateway: failed attempts from one address are
	// slowed down progressively.
	for _, c := range []struct {
		name, method, path string
		token              func(g *daemontest.Gateway) string
	}{
		{"missing bearer", http.MethodPost, "/v1/chat/completions", func(*daemontest.Gateway) string { return "" }},
		{"wrong bearer", http.MethodPost, "/v1/chat/completions", func(*daemontest.Gateway) string { return "not-the-token" }},
		{"token in query string", http.MethodPost, "/v1/chat/completions?token=", nil},
		{"responses", http.MethodPost, "/v1/responses", func(*daemontest.Gateway) string { return "" }},
		{"models", http.MethodGet, "/v1/models", func(*daemontest.Gateway) string { return "" }},
	} {
		g := daemontest.Start(t, daemon.Options{}, cfg)
		path, token := c.path, ""
		if c.token == nil {
			path += g.Token
		} else {
			token = c.token(g)
		}
		res, data := do(t, c.method, g.HTTP+path, token, strings.NewReader(body), nil)
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s", c.name, res.StatusCode, data)
			continue
		}
		var e map[string]any
		_ = json.Unmarshal(data, &e)
		want := map[string]any{"error": map[string]any{"message": "Unauthorized", "type": "unauthorized"}}
		if fmt.Sprint(e) != fmt.Sprint(want) {
			t.Errorf("%s: body %s", c.name, data)
		}
		if c.name == "models" {
			// Wrong method on an enabled endpoint: 405 before auth.
			res, _ = do(t, http.MethodGet, g.HTTP+"/v1/chat/completions", "", nil, nil)
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
				t.Errorf("GET chat completions = %d allow %q", res.StatusCode, res.Header.Get("Allow"))
			}
		}
	}
	if m.Calls() != 0 {
		t.Fatalf("unauthorized requests ran the model %d times", m.Calls())
	}
}

func TestChatCompletion(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	got, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
		Model:    "openclaw/default",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi there")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Choices) != 1 || got.Choices[0].Message.Content != "Hello from fake model. Echo: hi there" ||
		got.Choices[0].FinishReason != "stop" || got.Choices[0].Message.Role != "assistant" {
		t.Fatalf("choices = %+v", got.Choices)
	}
	if !strings.HasPrefix(got.ID, "chatcmpl_") || got.Object != "chat.completion" || got.Model != "openclaw/default" || got.Created == 0 {
		t.Fatalf("envelope = %s", got.RawJSON())
	}
	if got.Usage.PromptTokens != 10 || got.Usage.CompletionTokens != 5 || got.Usage.TotalTokens != 15 {
		t.Fatalf("usage = %+v", got.Usage)
	}
	if m.Calls() != 1 {
		t.Fatalf("model calls = %d", m.Calls())
	}
}

func TestChatCompletionStreaming(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	m.SetReply(func(last string) string { return "A longer streamed answer to: " + last + ", in several pieces." })
	stream := c.Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{
		Model:         "openclaw",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream please")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	var text strings.Builder
	chunks, roleFirst, finish := 0, false, ""
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if chunks == 0 && len(ch.Choices) == 1 && ch.Choices[0].Delta.Role == "assistant" {
			roleFirst = true
		}
		chunks++
		for _, choice := range ch.Choices {
			text.WriteString(choice.Delta.Content)
			if choice.FinishReason != "" {
				finish = choice.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := "A longer streamed answer to: stream please, in several pieces."
	if text.String() != want || !roleFirst || finish != "stop" || chunks < 4 {
		t.Fatalf("streamed %q (role first %v, finish %q, %d chunks)", text.String(), roleFirst, finish, chunks)
	}
	if acc.Usage.TotalTokens != 15 || acc.Choices[0].Message.Content != want {
		t.Fatalf("accumulated = %+v", acc.ChatCompletion)
	}
}

func TestChatStreamingWireFormat(t *testing.T) {
	_, g, _ := start(t, enabledHTTP)
	res, data := post(t, g, "/v1/chat/completions", g.Token, map[string]any{
		"model": "openclaw/main", "stream": true, "messages": []any{map[string]any{"role": "user", "content": "x"}},
	}, nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "data: ") {
			lines = append(lines, strings.TrimPrefix(l, "data: "))
		}
	}
	if len(lines) < 4 || lines[len(lines)-1] != "[DONE]" {
		t.Fatalf("stream = %s", data)
	}
	var first, last map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[len(lines)-2]), &last)
	delta := first["choices"].([]any)[0].(map[string]any)["delta"]
	if fmt.Sprint(delta) != "map[role:assistant]" || first["object"] != "chat.completion.chunk" || first["model"] != "openclaw/main" {
		t.Fatalf("first chunk = %s", lines[0])
	}
	fin := last["choices"].([]any)[0].(map[string]any)
	if fin["finish_reason"] != "stop" || fmt.Sprint(fin["delta"]) != "map[]" {
		t.Fatalf("finish chunk = %s", lines[len(lines)-2])
	}
	if strings.Contains(string(data), `"usage"`) {
		t.Fatalf("usage chunk without include_usage: %s", data)
	}
}

func TestModels(t *testing.T) {
	_, _, c := start(t, enabledHTTP)
	page, err := c.Models.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" || m.OwnedBy != "openclaw" || m.Created != 0 {
			t.Fatalf("model = %s", m.RawJSON())
		}
	}
	if strings.Join(ids, ",") != "openclaw,openclaw/default,openclaw/main,openclaw/ops" {
		t.Fatalf("ids = %v", ids)
	}
	for _, id := range []string{"openclaw", "openclaw/default", "openclaw/ops"} {
		got, err := c.Models.Get(ctx(t), id)
		if err != nil || got.ID != id {
			t.Fatalf("get %s = %+v, %v", id, got, err)
		}
	}
	_, err = c.Models.Get(ctx(t), "openclaw/nobody")
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusNotFound || oe.Type != "invalid_request_error" {
		t.Fatalf("unknown model = %v", err)
	}
}

func TestModelsRawPath(t *testing.T) {
	_, g, _ := start(t, enabledHTTP)
	res, data := do(t, http.MethodGet, g.HTTP+"/v1/models", g.Token, nil, nil)
	var list map[string]any
	if err := json.Unmarshal(data, &list); err != nil || res.StatusCode != http.StatusOK || list["object"] != "list" {
		t.Fatalf("%d %s", res.StatusCode, data)
	}
	first := list["data"].([]any)[0].(map[string]any)
	if fmt.Sprint(first) != "map[created:0 id:openclaw object:model owned_by:openclaw permission:[]]" {
		t.Fatalf("first = %v", first)
	}
	res, data = do(t, http.MethodGet, g.HTTP+"/v1/models/openclaw/main", g.Token, nil, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(data), `"id":"openclaw/main"`) {
		t.Fatalf("unescaped id = %d %s", res.StatusCode, data)
	}
	res, data = do(t, http.MethodGet, g.HTTP+"/v1/models/gpt-4o", g.Token, nil, nil)
	if typ, _ := apiErr(t, data); res.StatusCode != http.StatusBadRequest || typ != "invalid_request_error" {
		t.Fatalf("non-agent id = %d %s", res.StatusCode, data)
	}
}

func TestResponses(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	got, err := c.Responses.New(ctx(t), responses.ResponseNewParams{
		Model:        "openclaw",
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("hello responses")},
		Instructions: openai.String("Answer like a pirate."),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.OutputText() != "Hello from fake model. Echo: hello responses" || got.Status != "completed" || !strings.HasPrefix(got.ID, "resp_") {
		t.Fatalf("response = %s", got.RawJSON())
	}
	if got.Usage.InputTokens != 10 || got.Usage.OutputTokens != 5 || got.Usage.TotalTokens != 15 {
		t.Fatalf("usage = %+v", got.Usage)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(got.RawJSON()), &raw)
	item := raw["output"].([]any)[0].(map[string]any)
	if item["type"] != "message" || item["phase"] != "final_answer" || item["status"] != "completed" || !strings.HasPrefix(item["id"].(string), "msg_") {
		t.Fatalf("output item = %v", item)
	}
	if !strings.Contains(systemText(lastRequest(t, m)), "Answer like a pirate.") {
		t.Fatalf("instructions missing from the system prompt: %q", systemText(lastRequest(t, m)))
	}

	// previous_response_id continues the (otherwise stateless) session.
	next, err := c.Responses.New(ctx(t), responses.ResponseNewParams{
		Model:              "openclaw",
		Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("and then?")},
		PreviousResponseID: openai.String(got.ID),
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr := transcript(lastRequest(t, m)); next.ID == got.ID || !strings.Contains(tr, "user: hello responses\n") || !strings.HasSuffix(tr, "user: and then?\n") {
		t.Fatalf("previous_response_id did not continue the session:\n%s", tr)
	}
	if _, err := c.Responses.New(ctx(t), responses.ResponseNewParams{
		Model: "openclaw",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("fresh start")},
	}); err != nil {
		t.Fatal(err)
	}
	if tr := transcript(lastRequest(t, m)); strings.Contains(tr, "hello responses") {
		t.Fatalf("a request without previous_response_id shared a session:\n%s", tr)
	}
}

func TestResponsesStreaming(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	m.SetReply(func(last string) string { return "Streaming the Responses API for " + last })
	stream := c.Responses.NewStreaming(ctx(t), responses.ResponseNewParams{
		Model: "openclaw/ops",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("earlier question", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfMessage("earlier answer", responses.EasyInputMessageRoleAssistant),
			responses.ResponseInputItemParamOfMessage("the stream", responses.EasyInputMessageRoleUser),
		}},
	})
	var types []string
	var text strings.Builder
	var final responses.Response
	seq := int64(-1)
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != seq+1 {
			t.Fatalf("sequence %d after %d", ev.SequenceNumber, seq)
		}
		seq = ev.SequenceNumber
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	wantTypes := "response.created response.in_progress response.output_item.added response.content_part.added " +
		"response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed"
	if strings.Join(types, " ") != wantTypes {
		t.Fatalf("events = %v", types)
	}
	want := "Streaming the Responses API for " // the fake echoes the raw last user text
	if !strings.HasPrefix(text.String(), want) || final.OutputText() != text.String() || final.Status != "completed" || final.Usage.TotalTokens != 15 {
		t.Fatalf("streamed %q, final %s", text.String(), final.RawJSON())
	}
	user, _ := lastUserContent(lastRequest(t, m))
	if !strings.Contains(user, "User: earlier question") || !strings.Contains(user, "Assistant: earlier answer") ||
		!strings.Contains(user, "[Current message - respond to this]\nUser: the stream") {
		t.Fatalf("history not folded into the message: %q", user)
	}
}

func TestSessionContinuityWithUser(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	ask := func(text string, user string) {
		t.Helper()
		p := openai.ChatCompletionNewParams{Model: "openclaw", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}
		if user != "" {
			p.User = openai.String(user)
		}
		if _, err := c.Chat.Completions.New(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	ask("my name is Ada", "Conv-42")
	ask("what is my name?", "conv-42") // the key is case-insensitive, as in the reference
	tr := transcript(lastRequest(t, m))
	if !strings.Contains(tr, "user: my name is Ada") || !strings.Contains(tr, "assistant: Hello from fake model. Echo: my name is Ada") ||
		!strings.HasSuffix(tr, "user: what is my name?\n") {
		t.Fatalf("second request did not continue the session:\n%s", tr)
	}
	// Without user every request is a fresh session.
	ask("stateless one", "")
	ask("stateless two", "")
	if tr := transcript(lastRequest(t, m)); strings.Contains(tr, "stateless one") {
		t.Fatalf("stateless requests shared a session:\n%s", tr)
	}
}

func TestSessionKeyHeader(t *testing.T) {
	m, g, c := start(t, enabledHTTP)
	hdr := option.WithHeader("x-openclaw-session-key", "agent:ops:shared-thread")
	for _, text := range []string{"first on ops", "second on ops"} {
		if _, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: "openclaw",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}, hdr); err != nil {
			t.Fatal(err)
		}
	}
	if tr := transcript(lastRequest(t, m)); !strings.Contains(tr, "user: first on ops") {
		t.Fatalf("session key header did not continue the session:\n%s", tr)
	}
	// The session lives under agent ops: a WS client sees it there.
	ws := g.Dial(t, protocol.CLIDefaultScopes...)
	var hist map[string]any
	daemontest.Call(t, ws, "chat.history", map[string]any{"sessionKey": "agent:ops:shared-thread"}, &hist)
	if msgs, _ := hist["messages"].([]any); len(msgs) != 4 {
		t.Fatalf("chat.history of the header session = %v", hist)
	}

	for name, c := range map[string]struct {
		hdr  map[string]string
		want string
	}{
		"reserved namespace": {map[string]string{"x-openclaw-session-key": "cron:nightly"}, "reserved"},
		"agent mismatch":     {map[string]string{"x-openclaw-session-key": "agent:ops:x", "x-openclaw-agent-id": "main"}, "belongs to agent 'ops'"},
		"unknown agent hdr":  {map[string]string{"x-openclaw-agent-id": "nobody"}, "Unknown agent 'nobody'."},
		"bad model override": {map[string]string{"x-openclaw-model": "nosuchprovider/model"}, "Invalid `x-openclaw-model`"},
	} {
		res, data := post(t, g, "/v1/chat/completions", g.Token, `{"model":"openclaw","messages":[{"role":"user","content":"x"}]}`, c.hdr)
		typ, msg := apiErr(t, data)
		if res.StatusCode != http.StatusBadRequest || typ != "invalid_request_error" || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %s", name, res.StatusCode, data)
		}
	}
}

func TestHistoryAndSystemMessages(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	_, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
		Model: "agent:main",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Always answer in French."),
			openai.UserMessage("What is 2+2?"),
			openai.AssistantMessage("4"),
			openai.UserMessage("And times 3?"),
		},
	}, option.WithHeader("x-openclaw-model", "fake/fake-1"))
	if err != nil {
		t.Fatal(err)
	}
	req := lastRequest(t, m)
	if !strings.Contains(systemText(req), "Always answer in French.") {
		t.Fatalf("system message not in the system prompt: %q", systemText(req))
	}
	user, _ := lastUserContent(req)
	want := "[Chat messages since your last reply - for context]\nUser: What is 2+2?\nAssistant: 4\n\n[Current message - respond to this]\nUser: And times 3?"
	if user != want {
		t.Fatalf("message = %q", user)
	}
}

func pngDataURL(t *testing.T) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(buf.Bytes())
	return "data:image/png;base64," + b64, b64
}

func TestImageInput(t *testing.T) {
	m, g, c := start(t, enabledHTTP)
	url, b64 := pngDataURL(t)
	_, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
		Model: "openclaw",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("what is in this picture?"),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: url}),
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	text, images := lastUserContent(lastRequest(t, m))
	if text != "what is in this picture?" || len(images) != 1 || images[0] != "data:image/png;base64,"+b64 {
		t.Fatalf("model got text %q images %v", text, images)
	}

	// Image only, through the Responses API.
	_, err = c.Responses.New(ctx(t), responses.ResponseNewParams{Model: "openclaw", Input: responses.ResponseNewParamsInputUnion{
		OfInputItemList: responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage(
			responses.ResponseInputMessageContentListParam{{OfInputImage: &responses.ResponseInputImageParam{ImageURL: openai.String(url), Detail: responses.ResponseInputImageDetailAuto}}},
			responses.EasyInputMessageRoleUser)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	text, images = lastUserContent(lastRequest(t, m))
	if text != "User sent image(s) with no text." || len(images) != 1 {
		t.Fatalf("responses image: text %q images %d", text, len(images))
	}

	part := func(u string) map[string]any {
		return map[string]any{"type": "image_url", "image_url": map[string]any{"url": u}}
	}
	many := []any{map[string]any{"type": "text", "text": "lots"}}
	for range 9 {
		many = append(many, part(url))
	}
	for name, content := range map[string][]any{
		"remote url":      {part("https://example.com/cat.png")},
		"not base64":      {part("data:image/png,rawbytes")},
		"too many":        many,
		"unaccepted mime": {part("data:image/tiff;base64," + b64)},
	} {
		calls := m.Calls()
		res, data := post(t, g, "/v1/chat/completions", g.Token, map[string]any{"model": "openclaw",
			"messages": []any{map[string]any{"role": "user", "content": content}}}, nil)
		if typ, msg := apiErr(t, data); res.StatusCode != http.StatusBadRequest || typ != "invalid_request_error" || msg == "" {
			t.Errorf("%s: %d %s", name, res.StatusCode, data)
		}
		if m.Calls() != calls {
			t.Errorf("%s: refused request reached the model", name)
		}
	}
}

func TestBadRequests(t *testing.T) {
	m, g, _ := start(t, enabledHTTP)
	for name, c := range map[string]struct {
		path, body string
		status     int
		want       string
	}{
		"unknown agent":      {"/v1/chat/completions", `{"model":"openclaw/nobody","messages":[{"role":"user","content":"x"}]}`, 400, "Unknown agent 'nobody'."},
		"provider model":     {"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`, 400, "Invalid `model`"},
		"no user message":    {"/v1/chat/completions", `{"model":"openclaw","messages":[{"role":"system","content":"x"}]}`, 400, "Missing user message"},
		"not json":           {"/v1/chat/completions", `{"model":`, 400, "invalid JSON"},
		"bad temperature":    {"/v1/chat/completions", `{"model":"openclaw","temperature":3,"messages":[{"role":"user","content":"x"}]}`, 400, "temperature"},
		"required tool":      {"/v1/chat/completions", `{"model":"openclaw","tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"x"}]}`, 400, "tool_choice"},
		"responses no input": {"/v1/responses", `{"model":"openclaw"}`, 400, "input"},
		"responses agent":    {"/v1/responses", `{"model":"agent:nobody","input":"x"}`, 400, "Unknown agent 'nobody'."},
		"embeddings":         {"/v1/embeddings", `{"model":"openclaw","input":"x"}`, 404, "not supported"},
	} {
		res, data := post(t, g, c.path, g.Token, c.body, nil)
		if _, msg := apiErr(t, data); res.StatusCode != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %s", name, res.StatusCode, data)
		}
	}
	if m.Calls() != 0 {
		t.Fatalf("bad requests reached the model %d times", m.Calls())
	}
}

func TestOversizedBody(t *testing.T) {
	m, g, _ := start(t, enabledHTTP)
	big := `{"model":"openclaw","messages":[{"role":"user","content":"` + strings.Repeat("a", 20<<20) + `"}]}`
	res, data := post(t, g, "/v1/chat/completions", g.Token, big, nil)
	if typ, msg := apiErr(t, data); res.StatusCode != http.StatusRequestEntityTooLarge || typ != "invalid_request_error" || msg != "Payload too large" {
		t.Fatalf("%d %s", res.StatusCode, data)
	}
	// Without a Content-Length the limit applies while reading.
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, g.HTTP+"/v1/responses", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Authorization", "Bearer "+g.Token)
	req.ContentLength = -1
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversized body = %d", res2.StatusCode)
	}
	if m.Calls() != 0 {
		t.Fatal("an oversized request reached the model")
	}
}

func TestRunFailure(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	m.SetStatus(http.StatusBadRequest)
	_, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: "openclaw",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("fail please")}})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode < 500 || oe.Type != "api_error" || !strings.Contains(oe.Message, "fake failure") {
		t.Fatalf("failed run = %v", err)
	}
	if oe.Response.Header.Get("x-should-retry") != "false" {
		t.Fatal("a failed run invites SDK retries")
	}

	stream := c.Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{Model: "openclaw",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("fail the stream")}})
	for stream.Next() {
	}
	var se *ssestream.StreamError
	if !errors.As(stream.Err(), &se) || !strings.Contains(se.Message, "fake failure") {
		t.Fatalf("failed stream = %v", stream.Err())
	}

	rs := c.Responses.NewStreaming(ctx(t), responses.ResponseNewParams{Model: "openclaw",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("fail the response stream")}})
	var last responses.ResponseStreamEventUnion
	for rs.Next() {
		last = rs.Current()
	}
	if rs.Err() != nil || last.Type != "response.failed" || last.Response.Status != "failed" || !strings.Contains(last.Response.Error.Message, "fake failure") {
		t.Fatalf("failed response stream: err %v, last %s", rs.Err(), last.RawJSON())
	}
}

func TestClientDisconnectStopsWaiting(t *testing.T) {
	m, g, _ := start(t, enabledHTTP)
	m.SetChunkDelay(200 * time.Millisecond)
	m.SetReply(func(string) string { return strings.Repeat("slow ", 40) })
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodPost, g.HTTP+"/v1/chat/completions",
		strings.NewReader(`{"model":"openclaw","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	req.Header.Set("Authorization", "Bearer "+g.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, `"role":"assistant"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	res.Body.Close()
	// The gateway stays responsive and its shutdown (at cleanup) is not
	// held by the abandoned stream.
	done := make(chan struct{})
	go func() {
		defer close(done)
		r2, _ := do(t, http.MethodGet, g.HTTP+"/v1/models", g.Token, nil, nil)
		if r2.StatusCode != http.StatusOK {
			t.Errorf("models after disconnect = %d", r2.StatusCode)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway unresponsive after a client disconnect")
	}
}

func TestEnableAtRuntime(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, gatewayConfig(m, ""))
	res, _ := do(t, http.MethodGet, g.HTTP+"/v1/models", g.Token, nil, nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("before enabling = %d", res.StatusCode)
	}
	ws := g.Dial(t, protocol.CLIDefaultScopes...)
	var cur protocol.ConfigGetResult
	daemontest.Call(t, ws, "config.get", map[string]any{}, &cur)
	var out map[string]any
	daemontest.Call(t, ws, "config.set", map[string]any{"raw": gatewayConfig(m, enabledHTTP), "baseHash": cur.Hash}, &out)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, _ = do(t, http.MethodGet, g.HTTP+"/v1/models", g.Token, nil, nil)
		if res.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after config.set = %d", res.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIdempotencyKeyReplays(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	key := option.WithHeader("Idempotency-Key", "req-123")
	p := openai.ChatCompletionNewParams{Model: "openclaw", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("once only")}}
	a, err := c.Chat.Completions.New(ctx(t), p, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Chat.Completions.New(ctx(t), p, key)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || b.Choices[0].Message.Content != a.Choices[0].Message.Content || m.Calls() != 1 {
		t.Fatalf("replay: ids %s/%s, content %q/%q, model calls %d", a.ID, b.ID, a.Choices[0].Message.Content, b.Choices[0].Message.Content, m.Calls())
	}
}

// max_tokens / max_completion_tokens and temperature reach the agent's
// model calls.
func TestSamplingLimitsReachTheModel(t *testing.T) {
	m, _, c := start(t, enabledHTTP)
	if _, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
		Model:               "openclaw",
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("short please")},
		MaxCompletionTokens: openai.Int(64),
		Temperature:         openai.Float(0.25),
	}); err != nil {
		t.Fatal(err)
	}
	reqs := m.Requests()
	last := reqs[len(reqs)-1]
	if last["max_tokens"] != float64(64) && last["max_completion_tokens"] != float64(64) || last["temperature"] != 0.25 {
		t.Fatalf("model request limits: max_tokens %v max_completion_tokens %v temperature %v",
			last["max_tokens"], last["max_completion_tokens"], last["temperature"])
	}
}
