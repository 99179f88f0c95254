package providers

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
)

// OpenRouter-style image output in chat deltas.
func TestChatImagesOut(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(pngBytes)
	f := newFake(t, chatSSE(
		`{"id":"c","object":"chat.completion.chunk","created":1,"model":"gemini-image","choices":[{"index":0,"delta":{"role":"assistant","content":"Here it is."},"finish_reason":null}]}`,
		`{"id":"c","object":"chat.completion.chunk","created":1,"model":"gemini-image","choices":[{"index":0,"delta":{"images":[{"type":"image_url","image_url":{"url":"data:image/png;base64,`+b64+`"}},{"type":"image_url","image_url":{"url":"https://not.inline/x.png"}}]},"finish_reason":null}]}`,
		`{"id":"c","object":"chat.completion.chunk","created":1,"model":"gemini-image","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`{"id":"c","object":"chat.completion.chunk","created":1,"model":"gemini-image","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`,
	))
	p := NewOpenAIChat(Options{BaseURL: f.URL + "/v1", APIKey: "k"})
	var c collector
	resp, err := p.Stream(context.Background(), Request{Model: "gemini-image", Messages: []Message{userText("draw")}}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "Here it is." || len(resp.Images) != 1 || resp.Images[0].MediaType != "image/png" || !bytes.Equal(resp.Images[0].Data, pngBytes) {
		t.Fatalf("response %+v", resp)
	}
}

// Responses API image_generation_call output items.
func TestResponsesImagesOut(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(pngBytes)
	f := newFake(t, responsesSSE(
		`{"type":"response.created","sequence_number":0,"response":{"id":"r","object":"response","created_at":1,"status":"in_progress","model":"gpt-image","output":[],"usage":null}}`,
		`{"type":"response.output_item.done","sequence_number":1,"output_index":0,"item":{"id":"ig_1","type":"image_generation_call","status":"completed","output_format":"png","result":"`+b64+`"}}`,
		`{"type":"response.output_text.delta","sequence_number":2,"item_id":"m","output_index":1,"content_index":0,"delta":"Done."}`,
		`{"type":"response.completed","sequence_number":3,"response":{"id":"r","object":"response","created_at":1,"status":"completed","model":"gpt-image","output":[],"usage":{"input_tokens":5,"output_tokens":6,"total_tokens":11}}}`,
	))
	p := NewOpenAIResponses(Options{ID: "openai", BaseURL: f.URL + "/v1", APIKey: "k"})
	var c collector
	resp, err := p.Stream(context.Background(), Request{Model: "gpt-image", Messages: []Message{userText("draw")}}, c.on)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "Done." || len(resp.Images) != 1 || !bytes.Equal(resp.Images[0].Data, pngBytes) || resp.Images[0].MediaType != "image/png" {
		t.Fatalf("response %+v", resp)
	}
}
