package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/protocol"
)

func TestSend(t *testing.T) {
	dir := isolate(t)
	rec := newRecorder(t, map[string]func(map[string]any) (any, error){
		"send": func(p map[string]any) (any, error) {
			res := map[string]any{"runId": "run-1", "messageId": "4711", "channel": p["channel"]}
			if p["to"] == "@news" {
				res["chatId"] = "-1001234567890"
			}
			if p["to"] == "numeric" {
				res["messageId"], res["chatId"] = 99, 123456789
			}
			return res, nil
		},
	})
	write := []string{protocol.ScopeWrite}
	// expectSend checks one send call, idempotencyKey aside (a fresh uuid).
	keys := map[string]bool{}
	expectSend := func(what, want string) {
		t.Helper()
		calls := rec.take()
		if len(calls) != 1 || calls[0].Method != "send" {
			t.Fatalf("%s: calls %+v", what, calls)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(calls[0].Params), &p); err != nil {
			t.Fatal(err)
		}
		key, _ := p["idempotencyKey"].(string)
		if _, err := uuid.Parse(key); err != nil {
			t.Fatalf("%s: idempotencyKey %q is not a uuid", what, key)
		}
		if keys[key] {
			t.Fatalf("%s: idempotencyKey %q reused", what, key)
		}
		keys[key] = true
		delete(p, "idempotencyKey")
		b, _ := json.Marshal(p)
		if string(b) != want {
			t.Fatalf("%s: params\n%s\nwant\n%s", what, b, want)
		}
		if len(calls[0].Scopes) != 1 || calls[0].Scopes[0] != write[0] {
			t.Fatalf("%s: scopes %v", what, calls[0].Scopes)
		}
	}

	mustOutput(t, "send text", rec.run(t, "send", "--channel", "telegram", "--to", "123456789", "Hello", "from", "the CLI"),
		"sent: telegram message 4711 to 123456789\n")
	expectSend("send text", `{"channel":"telegram","message":"Hello from the CLI","to":"123456789"}`)

	mustOutput(t, "send all options", rec.run(t, "send", "--channel", "telegram", "--account", "work", "--to", "@news",
		"--reply-to", "17", "--thread", "3", "--silent", "--media", "https://example.com/a.png", "caption"),
		"sent: telegram message 4711 to -1001234567890\n")
	expectSend("send all options", `{"accountId":"work","channel":"telegram","mediaUrl":"https://example.com/a.png","message":"caption",`+
		`"replyToId":"17","silent":true,"threadId":"3","to":"@news"}`)

	// Media alone; a local path is sent absolute.
	img := filepath.Join(dir, "pic.png")
	writeFile(t, img, "PNG")
	rel, err := filepath.Rel(mustGetwd(t), img)
	if err != nil {
		t.Fatal(err)
	}
	mustOutput(t, "send media", rec.run(t, "send", "--channel", "telegram", "--to", "numeric", "--media", rel),
		"sent: telegram message 99 to 123456789\n")
	expectSend("send media", `{"channel":"telegram","mediaUrl":"`+img+`","message":"","to":"numeric"}`)

	r := rec.run(t, "send", "--channel", "telegram", "--to", "1", "hi", "--json")
	if r.code != 0 || canonJSON(t, []byte(r.stdout)) != `{"channel":"telegram","messageId":"4711","runId":"run-1"}` {
		t.Fatalf("send --json: %+v", r)
	}
	expectSend("send --json", `{"channel":"telegram","message":"hi","to":"1"}`)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--channel", "telegram", "--to", "1"}, "nothing to send: give the message text or --media"},
		{[]string{"send", "--channel", "telegram", "--to", "1", " "}, "nothing to send"},
		{[]string{"send", "--to", "1", "hi"}, "--channel is required"},
		{[]string{"send", "--channel", "telegram", "hi"}, "--to is required"},
		{[]string{"send", "--channel", "telegram", "--to", "1", "--media", filepath.Join(dir, "nope.png")}, "no such file"},
		{[]string{"send", "--channel", "telegram", "--to", "1", "--account", "", "hi"}, "empty --account"},
	} {
		mustFail(t, c.want, rec.run(t, c.args...), exitUsage, c.want)
	}
	if calls := rec.take(); len(calls) != 0 {
		t.Fatalf("usage errors made calls: %+v", calls)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
