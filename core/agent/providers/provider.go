package providers

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The wire APIs (models.providers.<id>.api).
const (
	APIAnthropicMessages = "anthropic-messages"
	APIOpenAICompletions = "openai-completions"
	APIOpenAIResponses   = "openai-responses"
)

// Stop reasons shared by every API.
const (
	StopEnd       = "stop"
	StopToolUse   = "tool_use"
	StopMaxTokens = "max_tokens"
)

// Options say where and how to reach one provider.
type Options struct {
	// ID is the provider id of the config; it names the provider in errors.
	ID string
	// BaseURL overrides the API's public endpoint (proxies, local servers,
	// tests). For OpenAI APIs it includes the version path (".../v1"); for
	// Anthropic it does not (the SDK appends "v1/messages").
	BaseURL string
	// APIKey is sent as the API's credential; empty sends none. Providers
	// never read the environment themselves: the Registry does.
	APIKey string
	// HTTPClient carries the requests; nil uses http.DefaultClient.
	HTTPClient *http.Client
}

func (o Options) httpClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return http.DefaultClient
}

// New builds the provider for an api value.
func New(api string, o Options) (Provider, error) {
	switch api {
	case APIAnthropicMessages:
		return NewAnthropic(o), nil
	case APIOpenAICompletions:
		return NewOpenAIChat(o), nil
	case APIOpenAIResponses:
		return NewOpenAIResponses(o), nil
	}
	return nil, fmt.Errorf("api %q is not supported (use %s, %s or %s)", api,
		APIAnthropicMessages, APIOpenAICompletions, APIOpenAIResponses)
}

// textOf joins the text parts of a message.
func textOf(parts []Part) string {
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" && p.Text != "" {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func hasImage(parts []Part) bool {
	for _, p := range parts {
		if p.Type == "image" && len(p.Data) > 0 {
			return true
		}
	}
	return false
}

func dataURL(p Part) string {
	return "data:" + imageMediaType(p) + ";base64," + base64.StdEncoding.EncodeToString(p.Data)
}

// imageMediaType is the part's media type, sniffed from the bytes when the
// caller did not say.
func imageMediaType(p Part) string {
	if p.MediaType != "" {
		return p.MediaType
	}
	if ct := http.DetectContentType(p.Data); strings.HasPrefix(ct, "image/") {
		return ct
	}
	return "image/png"
}

// argumentsJSON normalises tool-call arguments: an empty stream means no
// arguments, and the APIs reject anything but an object.
func argumentsJSON(raw string) (json.RawMessage, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(raw)) {
		return nil, fmt.Errorf("tool call arguments are not valid JSON: %.200s", raw)
	}
	return json.RawMessage(raw), nil
}

// argumentsOrEmpty is the arguments of a call in history, never invalid.
func argumentsOrEmpty(a json.RawMessage) string {
	if len(strings.TrimSpace(string(a))) == 0 || !json.Valid(a) {
		return "{}"
	}
	return string(a)
}

// schemaMap decodes a tool's JSON Schema; an empty one is an object with no
// properties.
func schemaMap(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	if m == nil {
		m = map[string]any{}
	}
	if _, ok := m["type"]; !ok {
		m["type"] = "object"
	}
	if _, ok := m["properties"]; !ok && m["type"] == "object" {
		m["properties"] = map[string]any{}
	}
	return m
}

// newCallID names a tool call a server left unnamed (some OpenAI-compatible
// servers do), so its result can be matched.
func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}

// isOpenAIHost reports whether base is OpenAI's own API (or empty, meaning
// it): only there are OpenAI-only request fields safe to send.
func isOpenAIHost(base string) bool {
	if base == "" {
		return true
	}
	u, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Hostname(), "api.openai.com")
}

// maxOutputImage bounds one image a model returns.
const maxOutputImage = 20 << 20

// imageFromBase64 decodes a model's base64 image output.
func imageFromBase64(b64, mime string) (Part, bool) {
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(data) == 0 || len(data) > maxOutputImage {
		return Part{}, false
	}
	return Part{Type: "image", MediaType: mime, Data: data}, true
}

// imageFromDataURL decodes a data:image/...;base64,... URL.
func imageFromDataURL(u string) (Part, bool) {
	head, body, ok := strings.Cut(strings.TrimSpace(u), ",")
	if !ok || !strings.HasPrefix(head, "data:image/") || !strings.HasSuffix(head, ";base64") {
		return Part{}, false
	}
	return imageFromBase64(body, strings.TrimSuffix(strings.TrimPrefix(head, "data:"), ";base64"))
}

// deltaImages reads the images some OpenAI-compatible servers (OpenRouter
// and the models it fronts) stream in a chat delta:
// "images": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,…"}}].
func deltaImages(raw string) []Part {
	var list []struct {
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	if json.Unmarshal([]byte(raw), &list) != nil {
		return nil
	}
	var out []Part
	for _, x := range list {
		if p, ok := imageFromDataURL(x.ImageURL.URL); ok {
			out = append(out, p)
		}
	}
	return out
}

func orPNG(format string) string {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "jpeg", "jpg":
		return "jpeg"
	case "webp":
		return "webp"
	}
	return "png"
}
