package providers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/config"
)

// sleeps records the waits of a Registry instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// twoProviders is a registry with a primary (Anthropic Messages) and a
// fallback (Chat Completions) provider on fake servers.
func twoProviders(t *testing.T, primary, fallback *fakeServer) (*Registry, *sleeps) {
	t.Helper()
	r := FromConfig(cfgWith(map[string]config.ProviderConfig{
		"anthropic": {BaseURL: primary.URL, APIKey: "k"},
		"vllm":      {BaseURL: fallback.URL + "/v1"},
	}), env(), nil)
	s := &sleeps{}
	r.Sleep = s.sleep
	return r, s
}

var twoRefs = []string{"anthropic/claude-sonnet-4-5", "vllm/qwen3"}

const overloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`

func TestRunRetriesAfter429HonouringRetryAfter(t *testing.T) {
	primary := newFake(t,
		jsonError(429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, "Retry-After", "3"),
		anthropicTextStream)
	fallback := newFake(t, chatTextStream)
	r, s := twoProviders(t, primary, fallback)
	var c collector
	resp, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if primary.count() != 2 || fallback.count() != 0 {
		t.Fatalf("requests: primary %d, fallback %d", primary.count(), fallback.count())
	}
	if !reflect.DeepEqual(s.got(), []time.Duration{3 * time.Second}) {
		t.Fatalf("sleeps %v", s.got())
	}
	if resp.Text != "Hello, world" || c.text.String() != "Hello, world" || resp.Provider != "anthropic" {
		t.Fatalf("resp %+v", resp)
	}
	if m := primary.requests()[1].JSON(t)["model"]; m != "claude-sonnet-4-5" {
		t.Fatalf("model sent %v", m)
	}
}

func TestRunBacksOffExponentially(t *testing.T) {
	primary := newFake(t, jsonError(503, overloaded), jsonError(529, overloaded), anthropicTextStream)
	r, s := twoProviders(t, primary, newFake(t, chatTextStream))
	if _, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.got(), []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("sleeps %v", s.got())
	}
}

func TestRunFailsOverAfter500s(t *testing.T) {
	primary := newFake(t, jsonError(500, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`))
	fallback := newFake(t, chatTextStream)
	r, s := twoProviders(t, primary, fallback)
	resp, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if primary.count() != DefaultMaxAttempts || fallback.count() != 1 {
		t.Fatalf("requests: primary %d, fallback %d", primary.count(), fallback.count())
	}
	if !reflect.DeepEqual(s.got(), []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("sleeps %v", s.got())
	}
	if resp.Provider != "vllm" || resp.API != APIOpenAICompletions || resp.Text != "Hello there" {
		t.Fatalf("resp %+v", resp)
	}
	if m := fallback.requests()[0].JSON(t)["model"]; m != "qwen3" {
		t.Fatalf("fallback model %v", m)
	}
}

func TestRunDoesNotRetry400ButFailsOver(t *testing.T) {
	primary := newFake(t, jsonError(400, `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`))
	fallback := newFake(t, chatTextStream)
	r, s := twoProviders(t, primary, fallback)
	resp, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if primary.count() != 1 || fallback.count() != 1 || len(s.got()) != 0 || resp.Provider != "vllm" {
		t.Fatalf("primary %d fallback %d sleeps %v resp %+v", primary.count(), fallback.count(), s.got(), resp)
	}
}

func TestRunReportsEveryFailure(t *testing.T) {
	primary := newFake(t, jsonError(401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`))
	fallback := newFake(t, jsonError(503, `{"error":{"message":"no healthy upstream","type":"server_error"}}`))
	r, _ := twoProviders(t, primary, fallback)
	refs := append([]string{"nowhere/model"}, twoRefs...)
	_, err := r.Run(context.Background(), refs, Request{Messages: []Message{userText("hi")}}, nil)
	var re *RunError
	if !errors.As(err, &re) || len(re.Failures) != 3 {
		t.Fatalf("err %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"all 3 models failed",
		`nowhere/model: unknown model provider "nowhere"`,
		"anthropic/claude-sonnet-4-5: HTTP 401: authentication_error: invalid x-api-key",
		"vllm/qwen3: HTTP 503: server_error: no healthy upstream (after 3 attempts)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("errors.As APIError: %#v", ae)
	}
	if f := re.Failures[2]; f.Provider != "vllm" || f.Model != "qwen3" || f.Attempts != 3 {
		t.Fatalf("failure %+v", f)
	}
}

func TestRunCapsRetryAfter(t *testing.T) {
	date := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)
	primary := newFake(t,
		jsonError(429, overloaded, "Retry-After", "3600"),
		jsonError(429, overloaded, "Retry-After", date),
		anthropicTextStream)
	r, s := twoProviders(t, primary, newFake(t, chatTextStream))
	if _, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.got(), []time.Duration{time.Minute, time.Minute}) {
		t.Fatalf("sleeps %v", s.got())
	}
}

func TestRunRetriesAResetConnection(t *testing.T) {
	reset := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST
		}
		conn.Close()
	}
	primary := newFake(t, reset, anthropicTextStream)
	r, s := twoProviders(t, primary, newFake(t, chatTextStream))
	resp, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, nil)
	if err != nil || resp.Provider != "anthropic" || primary.count() != 2 || len(s.got()) != 1 {
		t.Fatalf("resp %+v err %v requests %d sleeps %v", resp, err, primary.count(), s.got())
	}
}

func TestRunCancelledWhileWaitingForTheProvider(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	primary := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		cancel() // the user gives up while the provider thinks
		<-r.Context().Done()
	})
	fallback := newFake(t, chatTextStream)
	r, s := twoProviders(t, primary, fallback)
	_, err := r.Run(ctx, twoRefs, Request{Messages: []Message{userText("hi")}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if fallback.count() != 0 || primary.count() != 1 || len(s.got()) != 0 {
		t.Fatalf("after cancel: primary %d, fallback %d, sleeps %v", primary.count(), fallback.count(), s.got())
	}
	var me *ModelError
	if !errors.As(err, &me) || me.Ref != twoRefs[0] {
		t.Fatalf("err does not name the model: %v", err)
	}
}

func TestRunCancelledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	primary := newFake(t, jsonError(503, overloaded))
	fallback := newFake(t, chatTextStream)
	r, _ := twoProviders(t, primary, fallback)
	r.Sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	_, err := r.Run(ctx, twoRefs, Request{Messages: []Message{userText("hi")}}, nil)
	if !errors.Is(err, context.Canceled) || fallback.count() != 0 || primary.count() != 1 {
		t.Fatalf("err %v primary %d fallback %d", err, primary.count(), fallback.count())
	}
	if !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("the provider's failure is lost: %v", err)
	}
}

func TestRunStopsCallerCancellingMidStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	primary := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		anthropicSSE(
			`{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}`,
			`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`,
		)(w, r)
		<-r.Context().Done()
	})
	fallback := newFake(t, chatTextStream)
	r, _ := twoProviders(t, primary, fallback)
	var got string
	_, err := r.Run(ctx, twoRefs, Request{Messages: []Message{userText("hi")}}, func(ev Event) error {
		got += ev.TextDelta
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || got != "Hel" || fallback.count() != 0 || primary.count() != 1 {
		t.Fatalf("err %v text %q primary %d fallback %d", err, got, primary.count(), fallback.count())
	}
}

func TestRunNoFailoverOnceTextStreamed(t *testing.T) {
	primary := newFake(t, anthropicSSE(
		`{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The answer is"}}`,
		overloaded,
	))
	fallback := newFake(t, chatTextStream)
	r, s := twoProviders(t, primary, fallback)
	var c collector
	_, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, c.on)
	var me *ModelError
	if !errors.As(err, &me) || !me.Partial || me.Provider != "anthropic" {
		t.Fatalf("err %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 529 {
		t.Fatalf("cause lost: %v", err)
	}
	if primary.count() != 1 || fallback.count() != 0 || len(s.got()) != 0 || c.text.String() != "The answer is" {
		t.Fatalf("primary %d fallback %d sleeps %v text %q", primary.count(), fallback.count(), s.got(), c.text.String())
	}
	if !strings.Contains(err.Error(), "anthropic/claude-sonnet-4-5") || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("message %q", err)
	}
}

func TestRunReturnsTheCallersError(t *testing.T) {
	primary := newFake(t, anthropicTextStream)
	fallback := newFake(t, chatTextStream)
	r, _ := twoProviders(t, primary, fallback)
	stop := errors.New("client went away")
	_, err := r.Run(context.Background(), twoRefs, Request{Messages: []Message{userText("hi")}}, func(Event) error { return stop })
	if err != stop || fallback.count() != 0 {
		t.Fatalf("err %v fallback %d", err, fallback.count())
	}
}

func TestRunRetriesUntilExhaustedThenUsesTheNextProviderAPI(t *testing.T) {
	// The fallback is an OpenAI Responses provider: a failover may change
	// the wire API mid-conversation, tool history included.
	primary := newFake(t, jsonError(529, overloaded))
	fallback := newFake(t, responsesToolStream)
	r := FromConfig(cfgWith(map[string]config.ProviderConfig{
		"anthropic": {BaseURL: primary.URL, APIKey: "k"},
		"openai":    {BaseURL: fallback.URL + "/v1", APIKey: "sk"},
	}), env(), nil)
	s := &sleeps{}
	r.Sleep = s.sleep
	r.MaxAttempts = 2
	var c collector
	resp, err := r.Run(context.Background(), []string{"anthropic/claude-opus-4-6", "openai/gpt-5.4"}, Request{
		Messages: []Message{
			userText("weather?"),
			{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "toolu_01", Name: "get_weather", Arguments: []byte(`{"location":"Oslo"}`)}}},
			{Role: RoleTool, ToolCallID: "toolu_01", Content: []Part{{Type: "text", Text: "-3C"}}},
		},
	}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if primary.count() != 2 || len(s.got()) != 1 || resp.API != APIOpenAIResponses || len(c.calls) != 1 {
		t.Fatalf("primary %d sleeps %v resp %+v calls %v", primary.count(), s.got(), resp, c.calls)
	}
	in := fallback.requests()[0].JSON(t)["input"].([]any)
	if dig(t, in, 1, "call_id") != "toolu_01" || dig(t, in, 2, "call_id") != "toolu_01" || dig(t, in, 2, "output") != "-3C" {
		t.Fatalf("input %v", in)
	}
}
