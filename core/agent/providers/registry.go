package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/config"
)

// DefaultOllamaURL is where a local Ollama listens; its OpenAI-compatible
// API is under /v1.
const DefaultOllamaURL = "http://127.0.0.1:11434"

// ollamaDetectTimeout bounds the /api/tags probe: a local server answers in
// milliseconds, and startup must not hang on a firewalled port.
const ollamaDetectTimeout = 500 * time.Millisecond

// defaultBaseURLs are the usual endpoints of local OpenAI-compatible
// servers, used when their provider id is configured without a baseUrl.
var defaultBaseURLs = map[string]string{
	"ollama":    DefaultOllamaURL + "/v1",
	"lmstudio":  "http://127.0.0.1:1234/v1",
	"vllm":      "http://127.0.0.1:8000/v1",
	"sglang":    "http://127.0.0.1:30000/v1",
	"llama-cpp": "http://127.0.0.1:8080/v1",
	"llamacpp":  "http://127.0.0.1:8080/v1",
}

// Errors of Resolve, for errors.Is.
var (
	ErrBadModelRef     = errors.New("malformed model ref")
	ErrUnknownProvider = errors.New("unknown model provider")
)

// Registry holds the model providers of a configuration and runs model
// calls across them (see Run). It is safe for concurrent use.
type Registry struct {
	// MaxAttempts is how many times one model is tried on retryable
	// errors before moving to the next (0: 3).
	MaxAttempts int
	// BaseDelay is the first backoff; each retry doubles it up to MaxDelay
	// (0: 1 s and 30 s).
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter caps a provider's Retry-After (0: 60 s).
	MaxRetryAfter time.Duration
	// Sleep waits between attempts; nil waits on a timer, returning early
	// with ctx's error. Tests replace it to observe the delays.
	Sleep func(ctx context.Context, d time.Duration) error

	hc         *http.Client
	ollamaBase string // root of the Ollama used for detection

	mu        sync.RWMutex
	providers map[string]Provider
	hints     map[string]string   // provider id -> why it is not available
	owners    map[string][]string // configured model id -> provider ids
	issues    []string
	detected  string // "ollama/<model>" once detection succeeded
}

// FromConfig builds the providers of cfg.models.providers, plus the
// implicit ones: "anthropic" and "openai" when ANTHROPIC_API_KEY /
// OPENAI_API_KEY are set and the provider is not configured, and "ollama"
// at 127.0.0.1:11434 unless configured. getenv (nil: os.Getenv) supplies
// keys; hc (nil: http.DefaultClient) carries every request.
//
// A provider whose api Pincer does not speak is skipped, as OpenClaw
// skips unknown api values instead of failing; Issues lists it and Resolve
// explains it.
func FromConfig(cfg *config.Config, getenv func(string) string, hc *http.Client) *Registry {
	if getenv == nil {
		getenv = os.Getenv
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	r := &Registry{
		hc:         hc,
		ollamaBase: DefaultOllamaURL,
		providers:  map[string]Provider{},
		hints:      map[string]string{},
		owners:     map[string][]string{},
	}
	var configured map[string]config.ProviderConfig
	if cfg != nil {
		configured = cfg.Models.Providers
	}
	ids := make([]string, 0, len(configured))
	for id := range configured {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		pc := configured[id]
		api, base, err := providerEndpoint(id, pc)
		if err != nil {
			r.hints[id] = err.Error()
			r.issues = append(r.issues, err.Error())
			continue
		}
		p, _ := New(api, Options{ID: id, BaseURL: base, APIKey: apiKey(id, pc.APIKey, getenv), HTTPClient: hc})
		r.providers[id] = p
		if id == "ollama" && base != "" {
			r.ollamaBase = ollamaRoot(base)
		}
		for _, m := range pc.Models {
			if m.ID != "" && !slices.Contains(r.owners[m.ID], id) {
				r.owners[m.ID] = append(r.owners[m.ID], id)
			}
		}
	}
	for _, im := range []struct{ id, api, env string }{
		{"anthropic", APIAnthropicMessages, "ANTHROPIC_API_KEY"},
		{"openai", APIOpenAIResponses, "OPENAI_API_KEY"},
	} {
		if _, ok := configured[im.id]; ok {
			continue
		}
		if key := strings.TrimSpace(getenv(im.env)); key != "" {
			p, _ := New(im.api, Options{ID: im.id, APIKey: key, HTTPClient: hc})
			r.providers[im.id] = p
		} else {
			r.hints[im.id] = fmt.Sprintf("set %s or configure models.providers.%s", im.env, im.id)
		}
	}
	if _, ok := configured["ollama"]; !ok {
		r.providers["ollama"] = NewOpenAIChat(Options{
			ID: "ollama", BaseURL: DefaultOllamaURL + "/v1",
			APIKey: strings.TrimSpace(getenv("OLLAMA_API_KEY")), HTTPClient: hc,
		})
	}
	return r
}

// providerEndpoint settles the api and base URL of a configured provider,
// with OpenClaw's defaults: anthropic speaks anthropic-messages, openai
// openai-responses, any other provider openai-completions.
func providerEndpoint(id string, pc config.ProviderConfig) (api, base string, err error) {
	api = strings.TrimSpace(pc.API)
	base = strings.TrimSpace(pc.BaseURL)
	switch api {
	case "":
		switch id {
		case "anthropic":
			api = APIAnthropicMessages
		case "openai":
			api = APIOpenAIResponses
		default:
			api = APIOpenAICompletions
		}
	case "openai": // the legacy spelling OpenClaw's doctor migrates
		api = APIOpenAICompletions
	case "ollama":
		// Ollama's native /api/chat is not implemented; its
		// OpenAI-compatible endpoint serves the same models.
		api = APIOpenAICompletions
		if base != "" {
			base = ollamaRoot(base) + "/v1"
		}
	case APIAnthropicMessages, APIOpenAICompletions, APIOpenAIResponses:
	default:
		return "", "", fmt.Errorf("models.providers.%s.api %q is not supported by Pincer (use %s, %s or %s)",
			id, api, APIAnthropicMessages, APIOpenAICompletions, APIOpenAIResponses)
	}
	if base == "" {
		base = defaultBaseURLs[id]
	}
	// Only the vendors' own ids may default to the vendors' endpoints: a
	// "minimax" provider without a baseUrl must not send its key to
	// api.anthropic.com.
	public := (id == "anthropic" && api == APIAnthropicMessages) || (id == "openai" && api != APIAnthropicMessages)
	if base == "" && !public {
		if api == APIAnthropicMessages {
			return "", "", fmt.Errorf("models.providers.%s needs a baseUrl (the Anthropic-compatible endpoint, e.g. https://api.minimax.io/anthropic)", id)
		}
		return "", "", fmt.Errorf("models.providers.%s needs a baseUrl (the server's OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1)", id)
	}
	return api, base, nil
}

// apiKey resolves a configured key: "${NAME}" reads the environment, and
// an empty key falls back to <ID>_API_KEY (ANTHROPIC_API_KEY,
// OPENAI_API_KEY, OPENROUTER_API_KEY …).
func apiKey(id, configured string, getenv func(string) string) string {
	k := strings.TrimSpace(configured)
	if strings.HasPrefix(k, "${") && strings.HasSuffix(k, "}") {
		return strings.TrimSpace(getenv(k[2 : len(k)-1]))
	}
	if k != "" {
		return k
	}
	return strings.TrimSpace(getenv(envKeyName(id)))
}

func envKeyName(id string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(id) {
		if (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String() + "_API_KEY"
}

// ollamaRoot is the server root of an Ollama URL given with or without /v1.
func ollamaRoot(base string) string {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	base = strings.TrimSuffix(base, "/v1")
	return strings.TrimRight(base, "/")
}

// Register adds or replaces a provider under its ID.
func (r *Registry) Register(p Provider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.providers[p.ID()] = p
	delete(r.hints, p.ID())
}

// Provider returns the provider with id.
func (r *Registry) Provider(id string) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.providers[id]
	return p, ok
}

// IDs lists the available provider ids, sorted.
func (r *Registry) IDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, 0, len(r.providers))
	for id := range r.providers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Issues lists configured providers that were skipped, and why.
func (r *Registry) Issues() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.issues)
}

// Resolve splits a "provider/model" ref at its first "/" (the model id may
// contain more, as OpenRouter's do) and returns the provider and the
// provider's model id. A ref without a provider is accepted when exactly
// one configured provider lists that model id.
func (r *Registry) Resolve(ref string) (Provider, string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, "", fmt.Errorf("%w: the ref is empty; write \"provider/model\", e.g. \"anthropic/claude-sonnet-4-5\"", ErrBadModelRef)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	id, model, ok := strings.Cut(ref, "/")
	if !ok {
		if owners := r.owners[ref]; len(owners) == 1 {
			if p := r.providers[owners[0]]; p != nil {
				return p, ref, nil
			}
		} else if len(owners) > 1 {
			return nil, "", fmt.Errorf("%w: %q is listed by several providers (%s); write \"provider/%s\"",
				ErrBadModelRef, ref, strings.Join(owners, ", "), ref)
		}
		return nil, "", fmt.Errorf("%w: %q names no provider; write \"provider/model\", e.g. \"anthropic/%s\"", ErrBadModelRef, ref, ref)
	}
	id, model = strings.TrimSpace(id), strings.TrimSpace(model)
	if id == "" || model == "" {
		return nil, "", fmt.Errorf("%w: %q needs both a provider and a model: \"provider/model\"", ErrBadModelRef, ref)
	}
	p := r.providers[id]
	if p == nil {
		p = r.providers[strings.ToLower(id)]
	}
	if p != nil {
		return p, model, nil
	}
	if hint := r.hints[id]; hint != "" {
		return nil, "", fmt.Errorf("%w %q in %q: %s", ErrUnknownProvider, id, ref, hint)
	}
	ids := make([]string, 0, len(r.providers))
	for k := range r.providers {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	return nil, "", fmt.Errorf("%w %q in %q: configure models.providers.%s (available: %s)",
		ErrUnknownProvider, id, ref, id, strings.Join(ids, ", "))
}

// AgentModel is the model selection of an agent: its own model when it
// sets one (strict: only its own fallbacks, as in OpenClaw), else
// agents.defaults.model.
func AgentModel(cfg *config.Config, agentID string) config.ModelRef {
	if cfg == nil {
		return config.ModelRef{}
	}
	if e, ok := cfg.Agents.Entries[agentID]; ok && e.Model != nil && strings.TrimSpace(e.Model.Primary) != "" {
		return *e.Model
	}
	return cfg.Agents.Defaults.Model
}

// Models lists the refs to try for a model selection: the primary, then
// the fallbacks in order, without blanks or repeats. With nothing
// selected it looks for a local Ollama and uses its first model; with no
// model at all it returns ErrNoModel.
func (r *Registry) Models(ctx context.Context, sel config.ModelRef) ([]string, error) {
	var refs []string
	for _, ref := range append([]string{sel.Primary}, sel.Fallbacks...) {
		ref = strings.TrimSpace(ref)
		if ref != "" && !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	if len(refs) > 0 {
		return refs, nil
	}
	r.mu.RLock()
	detected, base := r.detected, r.ollamaBase
	r.mu.RUnlock()
	if detected != "" {
		return []string{detected}, nil
	}
	models, err := DetectOllama(ctx, r.hc, base)
	if err != nil || len(models) == 0 {
		return nil, ErrNoModel
	}
	detected = "ollama/" + models[0]
	r.mu.Lock()
	r.detected = detected
	r.mu.Unlock()
	return []string{detected}, nil
}

// DetectOllama asks the Ollama at baseURL (with or without /v1; "" for
// 127.0.0.1:11434) which models it has pulled, giving up after 500 ms.
func DetectOllama(ctx context.Context, hc *http.Client, baseURL string) ([]string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	root := ollamaRoot(baseURL)
	if root == "" {
		root = DefaultOllamaURL
	}
	ctx, cancel := context.WithTimeout(ctx, ollamaDetectTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+"/api/tags", nil)
	if err != nil {
		return nil, fmt.Errorf("ollama: %w", err)
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ollama at %s: %w", root, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("ollama at %s: %w", root, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ollama at %s: GET /api/tags: HTTP %d: %s", root, res.StatusCode, errorBodyMessage(body, res.StatusCode))
	}
	var tags struct {
		Models []struct {
			Name  string `json:"name"`
			Model string `json:"model"`
		} `json:"models"`
	}
	if err := json.Unmarshal(body, &tags); err != nil {
		return nil, fmt.Errorf("ollama at %s: GET /api/tags: not an Ollama answer: %w", root, err)
	}
	names := make([]string, 0, len(tags.Models))
	for _, m := range tags.Models {
		n := m.Name
		if n == "" {
			n = m.Model
		}
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}
