package providers

import (
	"context"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

// OpenAIResponses speaks the OpenAI Responses API (api "openai-responses"):
// OpenAI's default, also offered by LM Studio and some proxies.
type OpenAIResponses struct {
	id     string
	native bool // api.openai.com: instructions and store are known to work
	svc    responses.ResponseService
}

// NewOpenAIResponses builds a Responses API provider.
func NewOpenAIResponses(o Options) *OpenAIResponses {
	if o.ID == "" {
		o.ID = "openai"
	}
	return &OpenAIResponses{
		id:     o.ID,
		native: isOpenAIHost(o.BaseURL),
		svc:    responses.NewResponseService(openAIOptions(o)...),
	}
}

// ID implements Provider.
func (p *OpenAIResponses) ID() string { return p.id }

// API implements Provider.
func (p *OpenAIResponses) API() string { return APIOpenAIResponses }

// Stream implements Provider.
func (p *OpenAIResponses) Stream(ctx context.Context, req Request, onEvent func(Event) error) (*Response, error) {
	stream := p.svc.NewStreaming(ctx, p.params(req))
	defer stream.Close()

	resp := &Response{Provider: p.id, Model: req.Model, API: APIOpenAIResponses}
	var text strings.Builder
	type pending struct {
		callID, name string
		args         strings.Builder
		done         bool
	}
	calls := map[string]*pending{} // by output item id
	var order []string
	track := func(itemID string, pc *pending) {
		if calls[itemID] == nil {
			order = append(order, itemID)
		}
		calls[itemID] = pc
	}
	finished := false

	emit := func(itemID, arguments string) error {
		pc := calls[itemID]
		if pc == nil || pc.done {
			return nil
		}
		pc.done = true
		raw := pc.args.String()
		if arguments != "" {
			raw = arguments // the done events carry the whole string
		}
		args, err := argumentsJSON(raw)
		if err != nil {
			return fmt.Errorf("%s: tool %s: %w", p.id, pc.name, err)
		}
		if pc.callID == "" {
			pc.callID = newCallID()
		}
		call := ToolCall{ID: pc.callID, Name: pc.name, Arguments: args}
		resp.ToolCalls = append(resp.ToolCalls, call)
		return onEvent(Event{ToolCall: &call})
	}

	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.created", "response.in_progress":
			if m := ev.Response.Model; m != "" {
				resp.Model = string(m)
			}
		case "response.output_text.delta":
			if ev.Delta == "" {
				continue
			}
			text.WriteString(ev.Delta)
			if err := onEvent(Event{TextDelta: ev.Delta}); err != nil {
				return nil, err
			}
		case "response.output_item.added":
			if ev.Item.Type == "function_call" {
				pc := &pending{callID: ev.Item.CallID, name: ev.Item.Name}
				pc.args.WriteString(ev.Item.Arguments.OfString)
				track(ev.Item.ID, pc)
			}
		case "response.function_call_arguments.delta":
			if pc := calls[ev.ItemID]; pc != nil {
				pc.args.WriteString(ev.Delta)
			}
		case "response.function_call_arguments.done":
			if err := emit(ev.ItemID, ev.Arguments); err != nil {
				return nil, err
			}
		case "response.output_item.done":
			if ev.Item.Type == "image_generation_call" && ev.Item.Result != "" {
				if img, ok := imageFromBase64(ev.Item.Result, "image/"+orPNG(ev.Item.OutputFormat)); ok {
					resp.Images = append(resp.Images, img)
				}
			}
			if ev.Item.Type == "function_call" {
				if calls[ev.Item.ID] == nil {
					track(ev.Item.ID, &pending{callID: ev.Item.CallID, name: ev.Item.Name})
				}
				if err := emit(ev.Item.ID, ev.Item.Arguments.OfString); err != nil {
					return nil, err
				}
			}
		case "response.completed", "response.incomplete":
			finished = true
			r := ev.Response
			if r.Model != "" {
				resp.Model = string(r.Model)
			}
			u := r.Usage
			cached := int(u.InputTokensDetails.CachedTokens)
			written := int(u.InputTokensDetails.CacheWriteTokens)
			resp.Usage = Usage{
				Input:      max(int(u.InputTokens)-cached-written, 0),
				Output:     int(u.OutputTokens),
				CacheRead:  cached,
				CacheWrite: written,
			}
			switch {
			case ev.Type == "response.completed":
				resp.StopReason = StopEnd
			case r.IncompleteDetails.Reason == "max_output_tokens":
				resp.StopReason = StopMaxTokens
			case r.IncompleteDetails.Reason != "":
				resp.StopReason = r.IncompleteDetails.Reason
			default:
				resp.StopReason = "incomplete"
			}
		case "response.failed":
			e := ev.Response.Error
			msg := e.Message
			if msg == "" {
				msg = "the response failed"
			}
			return nil, &APIError{Provider: p.id, Status: openAIErrorStatus(string(e.Code), e.Type), Message: prefixed(string(e.Code), msg)}
		case "error":
			msg := ev.Message
			if msg == "" {
				msg = "error event without a message"
			}
			return nil, &APIError{Provider: p.id, Status: openAIErrorStatus(ev.Code, ""), Message: prefixed(ev.Code, msg)}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, openAIStreamError(p.id, err)
	}
	if !finished {
		return nil, fmt.Errorf("%s: %w", p.id, errStreamTruncated)
	}
	// A call whose done events never came (a lenient server) still counts.
	for _, id := range order {
		if err := emit(id, ""); err != nil {
			return nil, err
		}
	}
	resp.Text = text.String()
	if len(resp.ToolCalls) > 0 && resp.StopReason == StopEnd {
		resp.StopReason = StopToolUse
	}
	return resp, nil
}

func prefixed(code, msg string) string {
	if code == "" || strings.Contains(msg, code) {
		return msg
	}
	return code + ": " + msg
}

func (p *OpenAIResponses) params(req Request) responses.ResponseNewParams {
	params := responses.ResponseNewParams{
		Model: shared.ResponsesModel(req.Model),
	}
	var input responses.ResponseInputParam
	if req.System != "" {
		if p.native {
			params.Instructions = openai.String(req.System)
		} else {
			// Other servers are not known to honour instructions.
			input = append(input, responses.ResponseInputItemUnionParam{OfMessage: &responses.EasyInputMessageParam{
				Role:    responses.EasyInputMessageRoleSystem,
				Content: responses.EasyInputMessageContentUnionParam{OfString: openai.String(req.System)},
			}})
		}
	}
	if p.native {
		// The whole conversation is sent every turn; nothing needs keeping.
		params.Store = openai.Bool(false)
	}
	params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: append(input, responsesInput(req.Messages)...)}
	if req.MaxTokens > 0 {
		params.MaxOutputTokens = openai.Int(int64(req.MaxTokens))
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	for _, t := range req.Tools {
		ft := &responses.FunctionToolParam{
			Name:       t.Name,
			Parameters: schemaMap(t.Parameters),
			// strict defaults to true here, which rejects ordinary schemas
			// (optional properties, no additionalProperties:false).
			Strict: openai.Bool(false),
		}
		if t.Description != "" {
			ft.Description = openai.String(t.Description)
		}
		params.Tools = append(params.Tools, responses.ToolUnionParam{OfFunction: ft})
	}
	return params
}

func responsesInput(msgs []Message) responses.ResponseInputParam {
	var out responses.ResponseInputParam
	for _, m := range msgs {
		switch m.Role {
		case RoleAssistant:
			if t := textOf(m.Content); t != "" {
				out = append(out, responses.ResponseInputItemUnionParam{OfMessage: &responses.EasyInputMessageParam{
					Role:    responses.EasyInputMessageRoleAssistant,
					Content: responses.EasyInputMessageContentUnionParam{OfString: openai.String(t)},
				}})
			}
			for _, c := range m.ToolCalls {
				out = append(out, responses.ResponseInputItemUnionParam{OfFunctionCall: &responses.ResponseFunctionToolCallParam{
					CallID:    c.ID,
					Name:      c.Name,
					Arguments: argumentsOrEmpty(c.Arguments),
				}})
			}
		case RoleTool:
			o := &responses.ResponseInputItemFunctionCallOutputParam{CallID: openai.String(m.ToolCallID)}
			t := textOf(m.Content)
			if m.IsError && t == "" {
				t = "error"
			}
			if !hasImage(m.Content) {
				o.Output.OfString = openai.String(t)
			} else {
				var items responses.ResponseFunctionCallOutputItemListParam
				for _, p := range m.Content {
					switch {
					case p.Type == "text" && p.Text != "":
						items = append(items, responses.ResponseFunctionCallOutputItemUnionParam{OfInputText: &responses.ResponseInputTextContentParam{Text: p.Text}})
					case p.Type == "image" && len(p.Data) > 0:
						items = append(items, responses.ResponseFunctionCallOutputItemUnionParam{OfInputImage: &responses.ResponseInputImageContentParam{
							ImageURL: openai.String(dataURL(p)),
							Detail:   responses.ResponseInputImageContentDetailAuto,
						}})
					}
				}
				o.Output.OfResponseFunctionCallOutputItemArray = items
			}
			out = append(out, responses.ResponseInputItemUnionParam{OfFunctionCallOutput: o})
		default:
			var content responses.ResponseInputMessageContentListParam
			for _, p := range m.Content {
				switch {
				case p.Type == "text" && p.Text != "":
					content = append(content, responses.ResponseInputContentUnionParam{OfInputText: &responses.ResponseInputTextParam{Text: p.Text}})
				case p.Type == "image" && len(p.Data) > 0:
					content = append(content, responses.ResponseInputContentUnionParam{OfInputImage: &responses.ResponseInputImageParam{
						ImageURL: openai.String(dataURL(p)),
						Detail:   responses.ResponseInputImageDetailAuto,
					}})
				}
			}
			if len(content) > 0 {
				out = append(out, responses.ResponseInputItemUnionParam{OfMessage: &responses.EasyInputMessageParam{
					Role:    responses.EasyInputMessageRoleUser,
					Content: responses.EasyInputMessageContentUnionParam{OfInputItemContentList: content},
				}})
			}
		}
	}
	return out
}
