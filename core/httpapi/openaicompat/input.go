package openaicompat

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/providers"
)

// The agent keeps its own transcript per session, but an OpenAI client
// sends the whole conversation each time. As the reference does, the
// earlier turns of the request are folded into the run's message under
// these markers, and system/developer messages go to the system prompt.
const (
	historyMarker        = "[Chat messages since your last reply - for context]"
	currentMessageMarker = "[Current message - respond to this]"
	imageOnlyMessage     = "User sent image(s) with no text."
	fileOnlyMessage      = "User sent file(s) with no text."
)

// entry is one conversation turn of a request.
type entry struct {
	Role   string // user | assistant | tool
	Sender string // User | Assistant | Tool:<id>
	Body   string
}

// buildMessage renders entries as the run's message: the last user or tool
// entry is the current message and what precedes it is history.
func buildMessage(entries []entry) string {
	if len(entries) == 0 {
		return ""
	}
	cur := len(entries) - 1
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Role == "user" || entries[i].Role == "tool" {
			cur = i
			break
		}
	}
	var history []string
	for _, e := range entries[:cur] {
		history = append(history, e.Sender+": "+e.Body)
	}
	c := entries[cur]
	if len(history) == 0 && c.Role != "tool" {
		return c.Body
	}
	if strings.TrimSpace(strings.Join(history, "\n")) == "" {
		return c.Sender + ": " + c.Body
	}
	return strings.Join([]string{historyMarker, strings.Join(history, "\n"), "", currentMessageMarker, c.Sender + ": " + c.Body}, "\n")
}

func renderToolCall(id, name, args string) string {
	return "tool_call id=" + id + " name=" + name + " arguments=" + args
}

// imagePolicy is gateway.http.endpoints.<name>.images (allowUrl is not
// honoured: remote images are never fetched).
type imagePolicy struct {
	maxBytes int
	mimes    []string
}

var defaultImageMimes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

func imagePolicyFor(block map[string]any) imagePolicy {
	p := imagePolicy{maxBytes: defaultImageMaxBytes, mimes: defaultImageMimes}
	img, _ := block["images"].(map[string]any)
	if n, ok := img["maxBytes"].(float64); ok && n > 0 && n <= math.MaxInt32 {
		p.maxBytes = int(n)
	}
	if list, ok := img["allowedMimes"].([]any); ok {
		var mimes []string
		for _, m := range list {
			if s, ok := m.(string); ok && strings.TrimSpace(s) != "" {
				mimes = append(mimes, strings.ToLower(strings.TrimSpace(s)))
			}
		}
		if len(mimes) > 0 {
			p.mimes = mimes
		}
	}
	return p
}

// imageBudget enforces the per-request image limits.
type imageBudget struct {
	policy imagePolicy
	parts  int
	bytes  int
	images []providers.Part
}

func (b *imageBudget) count() *apiError {
	b.parts++
	if b.parts > maxImageParts {
		return invalid(fmt.Sprintf("Too many images: at most %d image parts per request.", maxImageParts))
	}
	return nil
}

// addDataURL decodes a data: URL image. Remote URLs are refused: fetching
// them from the gateway host would let any caller make it reach arbitrary
// addresses.
func (b *imageBudget) addDataURL(raw string) *apiError {
	u := strings.TrimSpace(raw)
	if u == "" {
		return invalid("An image part is missing its URL.")
	}
	if len(u) < 5 || !strings.EqualFold(u[:5], "data:") {
		return invalid("Remote image URLs are not supported; send the image inline as a base64 data: URL (data:image/png;base64,…).")
	}
	meta, data, ok := strings.Cut(u[5:], ",")
	if !ok {
		return invalid("The image data: URL has no ',' before its payload.")
	}
	var mediaType string
	isB64 := false
	for _, p := range strings.Split(meta, ";") {
		p = strings.TrimSpace(p)
		switch {
		case strings.EqualFold(p, "base64"):
			isB64 = true
		case strings.Contains(p, "/") && mediaType == "":
			mediaType = strings.ToLower(p)
		}
	}
	if !isB64 {
		return invalid("The image data: URL must be base64 encoded (data:<type>;base64,<data>).")
	}
	return b.addBase64(mediaType, data)
}

// addBase64 decodes one base64 image of the declared media type (sniffed
// when missing).
func (b *imageBudget) addBase64(mediaType, data string) *apiError {
	data = strings.TrimSpace(data)
	if data == "" {
		return invalid("An image has no data.")
	}
	if est := base64.StdEncoding.DecodedLen(len(data)); b.bytes+est > maxTotalImageBytes+3 {
		return invalid(fmt.Sprintf("Images too large: at most %d MB of image data per request.", maxTotalImageBytes>>20))
	}
	raw, err := decodeBase64(data)
	if err != nil {
		return invalid("An image's base64 data does not decode: " + err.Error())
	}
	if len(raw) > b.policy.maxBytes {
		return invalid(fmt.Sprintf("An image is %d bytes; the limit is %d bytes per image.", len(raw), b.policy.maxBytes))
	}
	b.bytes += len(raw)
	if b.bytes > maxTotalImageBytes {
		return invalid(fmt.Sprintf("Images too large: at most %d MB of image data per request.", maxTotalImageBytes>>20))
	}
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if mediaType == "" {
		mediaType = http.DetectContentType(raw)
	}
	if !slices.Contains(b.policy.mimes, mediaType) {
		return invalid(fmt.Sprintf("Image type %q is not accepted; send one of %s.", mediaType, strings.Join(b.policy.mimes, ", ")))
	}
	b.images = append(b.images, providers.Part{Type: "image", MediaType: mediaType, Data: raw})
	return nil
}

// decodeBase64 accepts padded, unpadded and URL-safe base64 (with
// whitespace, as data URLs are often wrapped).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// sampling holds the request's sampling fields. They are checked as the
// reference checks them; the token limit and the temperature are applied
// to the agent's model calls (apply), the others are not forwarded.
type sampling struct {
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	Seed                *float64        `json:"seed"`
	MaxTokens           *float64        `json:"max_tokens"`
	MaxCompletionTokens *float64        `json:"max_completion_tokens"`
	MaxOutputTokens     *float64        `json:"max_output_tokens"`
	Stop                json.RawMessage `json:"stop"`
}

// apply sets the limits the agent's model calls honour.
func (s sampling) apply(t *agent.Turn) {
	for _, v := range []*float64{s.MaxCompletionTokens, s.MaxOutputTokens, s.MaxTokens} {
		if v != nil {
			t.MaxTokens = int(*v)
			break
		}
	}
	if s.Temperature != nil {
		v := *s.Temperature
		t.Temperature = &v
	}
}

func (s sampling) check() *apiError {
	between := func(v *float64, name string, lo, hi float64) *apiError {
		if v != nil && (math.IsNaN(*v) || *v < lo || *v > hi) {
			return invalid(fmt.Sprintf("`%s` must be between %g and %g.", name, lo, hi))
		}
		return nil
	}
	positive := func(v *float64, name string) *apiError {
		if v != nil && (*v < 1 || *v != math.Trunc(*v) || *v > 1<<53-1) {
			return invalid(fmt.Sprintf("%s must be a positive safe integer", name))
		}
		return nil
	}
	for _, e := range []*apiError{
		between(s.Temperature, "temperature", 0, 2),
		between(s.TopP, "top_p", 0, 1),
		between(s.FrequencyPenalty, "frequency_penalty", -2, 2),
		between(s.PresencePenalty, "presence_penalty", -2, 2),
		positive(s.MaxTokens, "max_tokens"),
		positive(s.MaxCompletionTokens, "max_completion_tokens"),
		positive(s.MaxOutputTokens, "max_output_tokens"),
	} {
		if e != nil {
			return e
		}
	}
	if s.Seed != nil && *s.Seed != math.Trunc(*s.Seed) {
		return invalid("`seed` must be an integer.")
	}
	if isNull(s.Stop) {
		return nil
	}
	var one string
	if json.Unmarshal(s.Stop, &one) == nil {
		return nil
	}
	var list []any
	if json.Unmarshal(s.Stop, &list) != nil {
		return invalid("Invalid stop: stop must be a string or array of strings")
	}
	if len(list) > 4 {
		return invalid("Invalid stop: stop supports at most 4 sequences")
	}
	for _, v := range list {
		if str, ok := v.(string); !ok || str == "" {
			return invalid("Invalid stop: stop entries must be non-empty strings")
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// checkTools validates client function tools and tool_choice. Client tools
// are accepted but not offered to the agent (it runs with its own tool
// set), so a tool_choice that demands a client tool call cannot be met and
// is refused rather than silently ignored.
func checkTools(tools, choice json.RawMessage, nested bool) *apiError {
	if !isNull(tools) {
		var list []map[string]any
		if json.Unmarshal(tools, &list) != nil {
			return invalid("Invalid tools/tool_choice: tools must be an array of objects")
		}
		for _, t := range list {
			if t["type"] != "function" {
				return invalid("Invalid tools/tool_choice: only function tools are supported")
			}
			name := t["name"]
			if nested {
				fn, _ := t["function"].(map[string]any)
				if fn == nil {
					return invalid("Invalid tools/tool_choice: tool.function is required")
				}
				name = fn["name"]
			}
			if s, _ := name.(string); strings.TrimSpace(s) == "" {
				return invalid("Invalid tools/tool_choice: tool.function.name is required")
			}
		}
	}
	if isNull(choice) {
		return nil
	}
	var s string
	if json.Unmarshal(choice, &s) == nil {
		switch s {
		case "auto", "none":
			return nil
		case "required":
			return invalid("Invalid tools/tool_choice: this gateway does not hand client tools to the agent, so tool_choice \"required\" cannot be met; use \"auto\" or \"none\"")
		}
		return invalid(fmt.Sprintf("Invalid tools/tool_choice: unknown tool_choice %q", s))
	}
	var obj map[string]any
	if json.Unmarshal(choice, &obj) != nil || obj["type"] != "function" {
		return invalid("Invalid tools/tool_choice: tool_choice must be \"auto\", \"none\", \"required\" or a function")
	}
	return invalid("Invalid tools/tool_choice: this gateway does not hand client tools to the agent, so a function tool_choice cannot be met; use \"auto\" or \"none\"")
}
