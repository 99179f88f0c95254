package providers

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/config"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// noNetwork fails every request: a registry built with it cannot reach a
// real Ollama on the test machine.
var noNetwork = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in tests")
})}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func cfgWith(providers map[string]config.ProviderConfig) *config.Config {
	c := config.Defaults()
	c.Models.Providers = providers
	return c
}

func TestFromConfigProvidersAndDefaults(t *testing.T) {
	r := FromConfig(cfgWith(map[string]config.ProviderConfig{
		"anthropic": {},
		"openai":    {APIKey: "sk-file"},
		"local":     {BaseURL: "http://10.0.0.5:8000/v1", API: "openai-completions", Models: []config.ProviderModel{{ID: "qwen3-32b"}}},
		"lmstudio":  {API: "openai-responses"},
		"minimax":   {BaseURL: "https://api.minimax.io/anthropic", API: "anthropic-messages", APIKey: "${MINIMAX_API_KEY}"},
		"legacy":    {BaseURL: "http://h/v1", API: "openai"},
		"gemini":    {BaseURL: "https://x", API: "google-generative-ai"},
		"nobase":    {},
	}), env("ANTHROPIC_API_KEY", "sk-ant"), noNetwork)

	for id, api := range map[string]string{
		"anthropic": APIAnthropicMessages, "openai": APIOpenAIResponses, "local": APIOpenAICompletions,
		"lmstudio": APIOpenAIResponses, "minimax": APIAnthropicMessages, "legacy": APIOpenAICompletions,
		"ollama": APIOpenAICompletions,
	} {
		p, ok := r.Provider(id)
		if !ok || p.API() != api || p.ID() != id {
			t.Errorf("%s: %v %v", id, p, ok)
		}
	}
	for _, id := range []string{"gemini", "nobase"} {
		if _, ok := r.Provider(id); ok {
			t.Errorf("%s should have been skipped", id)
		}
	}
	if len(r.Issues()) != 2 {
		t.Fatalf("issues %v", r.Issues())
	}
	_, _, err := r.Resolve("gemini/gemini-3-pro")
	if !errors.Is(err, ErrUnknownProvider) || !strings.Contains(err.Error(), `"google-generative-ai" is not supported`) {
		t.Fatalf("err %v", err)
	}
	_, _, err = r.Resolve("nobase/x")
	if err == nil || !strings.Contains(err.Error(), "models.providers.nobase needs a baseUrl") {
		t.Fatalf("err %v", err)
	}

	p, model, err := r.Resolve("openrouter-like/x")
	if !errors.Is(err, ErrUnknownProvider) || p != nil || model != "" || !strings.Contains(err.Error(), "available: anthropic, legacy, lmstudio, local, minimax, ollama, openai") {
		t.Fatalf("err %v", err)
	}
	p, model, err = r.Resolve("local/qwen3-32b")
	if err != nil || p.ID() != "local" || model != "qwen3-32b" {
		t.Fatalf("%v %q %v", p, model, err)
	}
	// The model id keeps every "/" after the first.
	if _, model, _ = r.Resolve("local/Qwen/Qwen3-32B-AWQ"); model != "Qwen/Qwen3-32B-AWQ" {
		t.Fatalf("model %q", model)
	}
	// A bare id resolves through the provider that lists it.
	if p, model, err = r.Resolve("qwen3-32b"); err != nil || p.ID() != "local" || model != "qwen3-32b" {
		t.Fatalf("bare: %v %q %v", p, model, err)
	}
	for _, bad := range []string{"", "  ", "claude", "/model", "anthropic/", "anthropic/  "} {
		if _, _, err := r.Resolve(bad); !errors.Is(err, ErrBadModelRef) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestImplicitProvidersFromEnvironment(t *testing.T) {
	r := FromConfig(nil, env(), noNetwork)
	if !reflect.DeepEqual(r.IDs(), []string{"ollama"}) {
		t.Fatalf("ids %v", r.IDs())
	}
	_, _, err := r.Resolve("anthropic/claude-sonnet-4-5")
	if !errors.Is(err, ErrUnknownProvider) || !strings.Contains(err.Error(), "set ANTHROPIC_API_KEY or configure models.providers.anthropic") {
		t.Fatalf("err %v", err)
	}
	r = FromConfig(nil, env("ANTHROPIC_API_KEY", "a", "OPENAI_API_KEY", "o"), noNetwork)
	if !reflect.DeepEqual(r.IDs(), []string{"anthropic", "ollama", "openai"}) {
		t.Fatalf("ids %v", r.IDs())
	}
	if p, _ := r.Provider("openai"); p.API() != APIOpenAIResponses {
		t.Fatalf("implicit openai speaks %s", p.API())
	}
}

func TestAPIKeysFromConfigAndEnvironment(t *testing.T) {
	ant := newFake(t, anthropicTextStream)
	oai := newFake(t, responsesTextStream)
	mm := newFake(t, anthropicTextStream)
	r := FromConfig(cfgWith(map[string]config.ProviderConfig{
		"anthropic": {BaseURL: ant.URL},
		"openai":    {BaseURL: oai.URL + "/v1", APIKey: "sk-file"},
		"minimax":   {BaseURL: mm.URL, API: "anthropic-messages", APIKey: "${MM_KEY}"},
	}), env("ANTHROPIC_API_KEY", "sk-env", "OPENAI_API_KEY", "sk-env-openai", "MM_KEY", "mm-secret"), nil)
	req := Request{Messages: []Message{userText("x")}}
	for _, ref := range []string{"anthropic/a", "openai/b", "minimax/c"} {
		if _, err := r.Run(context.Background(), []string{ref}, req, nil); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
	}
	if k := ant.requests()[0].Header.Get("X-Api-Key"); k != "sk-env" {
		t.Errorf("anthropic key %q", k)
	}
	if k := oai.requests()[0].Header.Get("Authorization"); k != "Bearer sk-file" {
		t.Errorf("openai key %q", k)
	}
	if k := mm.requests()[0].Header.Get("X-Api-Key"); k != "mm-secret" {
		t.Errorf("minimax key %q", k)
	}
}

func ollamaTags(names ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/tags" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		var b strings.Builder
		b.WriteString(`{"models":[`)
		for i, n := range names {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"name":"` + n + `","model":"` + n + `","modified_at":"2025-05-04T17:37:44.706015396-07:00","size":2019393189,"digest":"a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72","details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"3.2B","quantization_level":"Q4_K_M"}}`)
		}
		b.WriteString(`]}`)
		w.Write([]byte(b.String()))
	}
}

func TestDetectOllama(t *testing.T) {
	f := newFake(t, ollamaTags("llama3.2:latest", "qwen3:8b"))
	for _, base := range []string{f.URL, f.URL + "/", f.URL + "/v1", f.URL + "/v1/"} {
		got, err := DetectOllama(context.Background(), nil, base)
		if err != nil || !reflect.DeepEqual(got, []string{"llama3.2:latest", "qwen3:8b"}) {
			t.Fatalf("%s: %v %v", base, got, err)
		}
	}
	if r := f.requests()[0]; r.Method != http.MethodGet || r.Path != "/api/tags" {
		t.Fatalf("request %+v", r)
	}

	notOllama := newFake(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	if _, err := DetectOllama(context.Background(), nil, notOllama.URL); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("err %v", err)
	}

	// A server that never answers is given up on (after 500 ms).
	hang := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	if _, err := DetectOllama(context.Background(), nil, hang.URL); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestModelsUsesDetectedOllamaThenRunsIt(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-must-not-reach-ollama")
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/tags" {
			ollamaTags("llama3.2:latest")(w, r)
			return
		}
		chatTextStream(w, r)
	})
	cfg := cfgWith(map[string]config.ProviderConfig{"ollama": {BaseURL: f.URL + "/v1"}})
	r := FromConfig(cfg, env(), nil)
	refs, err := r.Models(context.Background(), AgentModel(cfg, config.MainAgentID))
	if err != nil || !reflect.DeepEqual(refs, []string{"ollama/llama3.2:latest"}) {
		t.Fatalf("refs %v err %v", refs, err)
	}
	resp, err := r.Run(context.Background(), refs, Request{Messages: []Message{userText("hi")}}, nil)
	if err != nil || resp.Text != "Hello there" || resp.Provider != "ollama" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	reqs := f.requests()
	last := reqs[len(reqs)-1]
	if last.Path != "/v1/chat/completions" || last.Header.Get("Authorization") != "" || last.JSON(t)["model"] != "llama3.2:latest" {
		t.Fatalf("chat request %+v", last)
	}
	// Detection is remembered.
	if _, err := r.Models(context.Background(), config.ModelRef{}); err != nil || f.count() != len(reqs) {
		t.Fatalf("detected again: %v, %d requests", err, f.count())
	}
}

func TestNoModelAnywhere(t *testing.T) {
	r := FromConfig(nil, env(), noNetwork)
	refs, err := r.Models(context.Background(), config.ModelRef{})
	if !errors.Is(err, ErrNoModel) || refs != nil {
		t.Fatalf("refs %v err %v", refs, err)
	}
	if !strings.Contains(ErrNoModel.Error(), "agents.defaults.model.primary") {
		t.Fatalf("ErrNoModel does not say how to configure a model: %v", ErrNoModel)
	}
	// An Ollama that answers but has pulled nothing is no model either.
	empty := newFake(t, ollamaTags())
	r = FromConfig(cfgWith(map[string]config.ProviderConfig{"ollama": {BaseURL: empty.URL}}), env(), nil)
	if _, err := r.Models(context.Background(), config.ModelRef{}); !errors.Is(err, ErrNoModel) {
		t.Fatalf("err %v", err)
	}
	if _, err := r.Run(context.Background(), nil, Request{}, nil); !errors.Is(err, ErrNoModel) {
		t.Fatalf("run without refs: %v", err)
	}
}

func TestModelsOrderAndAgentOverride(t *testing.T) {
	cfg := config.Defaults()
	cfg.Agents.Defaults.Model = config.ModelRef{Primary: "anthropic/claude-opus-4-6", Fallbacks: []string{" openai/gpt-5.4 ", "", "anthropic/claude-opus-4-6", "ollama/llama3.2"}}
	cfg.Agents.Entries["coder"] = config.AgentEntry{Model: &config.ModelRef{Primary: "openai/gpt-5.4-codex"}}
	r := FromConfig(cfg, env(), noNetwork)
	refs, err := r.Models(context.Background(), AgentModel(cfg, config.MainAgentID))
	if err != nil || !reflect.DeepEqual(refs, []string{"anthropic/claude-opus-4-6", "openai/gpt-5.4", "ollama/llama3.2"}) {
		t.Fatalf("refs %v err %v", refs, err)
	}
	// An agent's own model is strict: the default fallbacks do not apply.
	refs, _ = r.Models(context.Background(), AgentModel(cfg, "coder"))
	if !reflect.DeepEqual(refs, []string{"openai/gpt-5.4-codex"}) {
		t.Fatalf("coder refs %v", refs)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want float64
	}{
		{http.Header{"Retry-After": {"7"}}, 7},
		{http.Header{"Retry-After": {"1.5"}}, 1.5},
		{http.Header{"Retry-After": {now.Add(42 * time.Second).Format(http.TimeFormat)}}, 42},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 0.25},
		{http.Header{}, 0},
	} {
		if got := parseRetryAfter(tc.h, now); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestRetryableClassification(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&APIError{Status: 429}, true},
		{&APIError{Status: 503}, true},
		{&APIError{Status: 529}, true},
		{&APIError{Status: 400}, false},
		{&APIError{Status: 401}, false},
		{context.Canceled, false},
		{errStreamTruncated, true},
		{errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"), true},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("%v: %v", tc.err, got)
		}
	}
}

func TestOllamaNativeAPIValueUsesItsOpenAIEndpoint(t *testing.T) {
	f := newFake(t, chatTextStream)
	r := FromConfig(cfgWith(map[string]config.ProviderConfig{
		"ollama": {BaseURL: f.URL, API: "ollama", APIKey: "ollama-local"},
	}), env(), nil)
	resp, err := r.Run(context.Background(), []string{"ollama/qwen3:8b"}, Request{Messages: []Message{userText("x")}}, nil)
	if err != nil || resp.API != APIOpenAICompletions {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if req := f.requests()[0]; req.Path != "/v1/chat/completions" || req.Header.Get("Authorization") != "Bearer ollama-local" {
		t.Fatalf("request %+v", req)
	}
}
