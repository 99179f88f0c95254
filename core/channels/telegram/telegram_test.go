package telegram

import (
	"bytes"
	"context"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/channels/channel"
)

const waitLimit = 10 * time.Second

type running struct {
	p     *Plugin
	inbox chan channel.Inbound
	stop  func() error
}

func testConfig(f *fakeAPI) Config {
	return Config{Token: f.token, APIRoot: f.url(), HTTPClient: f.srv.Client(), Log: slog.New(slog.DiscardHandler)}
}

// start runs a plugin; stop cancels it and returns Start's error.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return startPlugin(t, p, nil)
}

func startPlugin(t *testing.T, p *Plugin, onIn func(channel.Inbound)) *running {
	t.Helper()
	inbox := make(chan channel.Inbound, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Start(ctx, func(_ context.Context, in channel.Inbound) {
			if onIn != nil {
				onIn(in)
			}
			inbox <- in
		})
	}()
	stopped := false
	var result error
	stop := func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(waitLimit):
			t.Fatal("Start did not return after cancel")
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	waitFor(t, "connected", func() bool { return p.Status().Connected })
	return &running{p: p, inbox: inbox, stop: stop}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func recv(t *testing.T, inbox chan channel.Inbound) channel.Inbound {
	t.Helper()
	select {
	case in := <-inbox:
		return in
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for an inbound message")
		return channel.Inbound{}
	}
}

func TestStartBadTokenFails(t *testing.T) {
	f := newFakeAPI(t)
	cfg := testConfig(f)
	cfg.Token = "999:wrong"
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err = p.Start(ctx, func(context.Context, channel.Inbound) {})
	if err == nil {
		t.Fatal("Start succeeded with a bad token")
	}
	if !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "token") {
		t.Fatalf("want a permanent token error, got %v", err)
	}
	st := p.Status()
	if st.Running || st.Connected || st.Linked || st.LastError == "" || !st.Configured {
		t.Fatalf("status after bad token: %+v", st)
	}
	if f.count("getUpdates") != 0 {
		t.Fatal("polled with a bad token")
	}
}

func TestValidate(t *testing.T) {
	f := newFakeAPI(t)
	ctx := context.Background()
	name, err := Validate(ctx, f.token, f.url()+"/", f.srv.Client())
	if err != nil || name != f.botUsr {
		t.Fatalf("Validate = %q, %v", name, err)
	}
	// a pasted /bot<TOKEN> suffix is tolerated
	if name, err = Validate(ctx, f.token, f.url()+"/bot"+f.token, f.srv.Client()); err != nil || name != f.botUsr {
		t.Fatalf("Validate with /bot suffix = %q, %v", name, err)
	}
	if _, err := Validate(ctx, "1:bad", f.url(), f.srv.Client()); err == nil || !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("Validate bad token: %v", err)
	}
}

func TestNewRequiresTokenAndWebhookSecret(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a token succeeded")
	}
	if _, err := New(Config{Token: "1:a", WebhookURL: "https://example.test/hook"}); err == nil {
		t.Fatal("webhook without a secret accepted")
	}
	if _, err := New(Config{Token: "1:a", APIRoot: "ftp://x"}); err == nil {
		t.Fatal("bad apiRoot accepted")
	}
}

func TestPeerMapping(t *testing.T) {
	f := newFakeAPI(t)
	r := start(t, testConfig(f))
	st := r.p.Status()
	if !st.Running || !st.Connected || !st.Linked || st.Self != "@"+f.botUsr || st.Mode != "polling" {
		t.Fatalf("status: %+v", st)
	}
	if r.p.TextLimit() != 4096 {
		t.Fatal("TextLimit")
	}

	alice := user(42, "alice")
	dm := message(1, privateChat(42), alice, "hello")
	group := message(2, groupChat(-500, "group", false), alice, "in group")
	topic := message(3, groupChat(-1001, "supergroup", true), alice, "in topic")
	topic["message_thread_id"] = 7
	topic["is_topic_message"] = true
	topic["reply_to_message"] = map[string]any{"message_id": 7, "date": 1, "chat": groupChat(-1001, "supergroup", true),
		"forum_topic_created": map[string]any{"name": "T", "icon_color": 1}}
	general := message(4, groupChat(-1001, "supergroup", true), alice, "in general")
	post := message(5, groupChat(-1009, "channel", false), nil, "a post")
	post["sender_chat"] = groupChat(-1009, "channel", false)
	self := message(6, groupChat(-500, "group", false), map[string]any{"id": f.botID, "is_bot": true, "first_name": "Pincer", "username": f.botUsr}, "me")
	f.push(
		map[string]any{"message": dm}, map[string]any{"message": group}, map[string]any{"message": topic},
		map[string]any{"message": general}, map[string]any{"channel_post": post}, map[string]any{"message": self},
	)

	in := recv(t, r.inbox)
	if in.Channel != "telegram" || in.AccountID != "default" || in.Peer != (channel.Peer{Kind: channel.PeerDirect, ID: "42"}) ||
		in.Sender.ID != "42" || in.Sender.Username != "alice" || in.Sender.IsBot || in.Sender.IsSelf ||
		in.Text != "hello" || in.MessageID != "1" || !in.Mentioned || in.Edited || in.Time.Unix() != 1700000000 || in.Raw == nil {
		t.Fatalf("dm: %+v", in)
	}
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerGroup, ID: "-500"}) || in.ParentPeer != nil || in.Mentioned {
		t.Fatalf("group: %+v", in)
	}
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "7", TopicKind: "topic"}) ||
		in.ParentPeer == nil || *in.ParentPeer != (channel.Peer{Kind: channel.PeerGroup, ID: "-1001"}) ||
		in.ReplyToID != "" || in.Mentioned {
		t.Fatalf("topic: %+v", in)
	}
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "1", TopicKind: "topic"}) {
		t.Fatalf("general topic: %+v", in)
	}
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerChannel, ID: "-1009"}) || in.Sender.ID != "-1009" || in.Text != "a post" {
		t.Fatalf("channel post: %+v", in)
	}
	in = recv(t, r.inbox)
	if !in.Sender.IsSelf || !in.Sender.IsBot {
		t.Fatalf("self: %+v", in.Sender)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("Start returned %v after cancel", err)
	}
	if st := r.p.Status(); st.Running || st.Connected || !st.Linked {
		t.Fatalf("status after stop: %+v", st)
	}
}

func TestMentionDetection(t *testing.T) {
	f := newFakeAPI(t)
	r := start(t, testConfig(f))
	grp := groupChat(-500, "supergroup", false)
	bob := user(43, "bob")
	ent := func(typ string, off, n int) map[string]any {
		return map[string]any{"type": typ, "offset": off, "length": n}
	}

	plain := message(1, grp, bob, "pincer_test_bot without the at")
	// "😀 " is 3 UTF-16 units: offsets are in UTF-16
	mention := message(2, grp, bob, "😀 hey @Pincer_Test_Bot look")
	mention["entities"] = []any{ent("mention", 7, 16)}
	other := message(3, grp, bob, "hey @other_bot")
	other["entities"] = []any{ent("mention", 4, 10)}
	command := message(4, grp, bob, "/status@pincer_test_bot now")
	command["entities"] = []any{ent("bot_command", 0, 23)}
	reply := message(5, grp, bob, "replying")
	reply["reply_to_message"] = message(900, grp, map[string]any{"id": f.botID, "is_bot": true, "first_name": "Pincer"}, "earlier")
	replyOther := message(6, grp, bob, "replying to alice")
	replyOther["reply_to_message"] = message(901, grp, user(42, "alice"), "hi")
	textMention := message(7, grp, bob, "Pincer do it")
	textMention["entities"] = []any{map[string]any{"type": "text_mention", "offset": 0, "length": 6, "user": map[string]any{"id": f.botID, "is_bot": true, "first_name": "Pincer"}}}
	caption := map[string]any{"message_id": 8, "date": 1, "chat": grp, "from": bob, "caption": "pic for @pincer_test_bot",
		"caption_entities": []any{ent("mention", 8, 16)}}
	f.push(map[string]any{"message": plain}, map[string]any{"message": mention}, map[string]any{"message": other},
		map[string]any{"message": command}, map[string]any{"message": reply}, map[string]any{"message": replyOther},
		map[string]any{"message": textMention}, map[string]any{"message": caption})

	want := []struct {
		id        string
		mentioned bool
		replyTo   string
	}{{"1", false, ""}, {"2", true, ""}, {"3", false, ""}, {"4", true, ""}, {"5", true, "900"}, {"6", false, "901"}, {"7", true, ""}, {"8", true, ""}}
	for _, w := range want {
		in := recv(t, r.inbox)
		if in.MessageID != w.id || in.Mentioned != w.mentioned || in.ReplyToID != w.replyTo {
			t.Errorf("message %s: got id=%s mentioned=%v replyTo=%q, want mentioned=%v replyTo=%q",
				w.id, in.MessageID, in.Mentioned, in.ReplyToID, w.mentioned, w.replyTo)
		}
	}
}

func TestEditedMessage(t *testing.T) {
	f := newFakeAPI(t)
	r := start(t, testConfig(f))
	m := message(10, privateChat(42), user(42, "alice"), "fixed typo")
	m["edit_date"] = 1700000500
	f.push(map[string]any{"edited_message": m})
	in := recv(t, r.inbox)
	if !in.Edited || in.Text != "fixed typo" || in.MessageID != "10" || in.Time.Unix() != 1700000500 {
		t.Fatalf("edited: %+v", in)
	}
}

func TestOffsetPersistenceAcrossRestart(t *testing.T) {
	f := newFakeAPI(t)
	f.keep = true
	store := NewMemoryOffsetStore()
	cfg := testConfig(f)
	cfg.AccountID = "work"
	cfg.OffsetStore = store
	ctx := context.Background()

	p1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The offset must not have moved past an update while it is handled.
	var early []string
	r1 := startPlugin(t, p1, func(in channel.Inbound) {
		off, _ := store.LoadOffset(ctx, "work")
		if u := in.Raw.(*models.Update).ID; off > u {
			early = append(early, in.MessageID)
		}
	})
	chat, alice := privateChat(42), user(42, "alice")
	ids := f.push(map[string]any{"message": message(1, chat, alice, "one")},
		map[string]any{"message": message(2, chat, alice, "two")},
		map[string]any{"message": message(3, chat, alice, "three")})
	for _, want := range []string{"one", "two", "three"} {
		if in := recv(t, r1.inbox); in.Text != want {
			t.Fatalf("got %q, want %q", in.Text, want)
		}
	}
	waitFor(t, "offset saved", func() bool { off, _ := store.LoadOffset(ctx, "work"); return off == ids[2]+1 })
	if len(early) > 0 {
		t.Fatalf("offset advanced before the handler ran for %v", early)
	}
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}

	// Same store: the restart resumes after "three" and sees only new updates.
	p2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r2 := startPlugin(t, p2, nil)
	f.push(map[string]any{"message": message(4, chat, alice, "four")})
	if in := recv(t, r2.inbox); in.Text != "four" {
		t.Fatalf("after restart got %q, want only the new update", in.Text)
	}
	f.mu.Lock()
	offsets := append([]int64(nil), f.offsets...)
	f.mu.Unlock()
	if offsets[0] != 0 {
		t.Fatalf("first start polled with offset %d", offsets[0])
	}
	var resumed bool
	for _, o := range offsets[1:] {
		if o == ids[2]+1 {
			resumed = true
		}
		if o != 0 && o < ids[0]+1 {
			t.Fatalf("polled with a stale offset %d", o)
		}
	}
	if !resumed {
		t.Fatalf("never polled with offset %d: %v", ids[2]+1, offsets)
	}
	_ = r2.stop()
	if off, _ := store.LoadOffset(ctx, "work"); off != ids[2]+2 {
		t.Fatalf("offset after restart = %d, want %d", off, ids[2]+2)
	}

	// Sanity check of the fake: without the saved offset everything
	// would have come again.
	cfg.OffsetStore = NewMemoryOffsetStore()
	p3, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r3 := startPlugin(t, p3, nil)
	if in := recv(t, r3.inbox); in.Text != "one" {
		t.Fatalf("fresh store got %q", in.Text)
	}
}

func TestInboundMedia(t *testing.T) {
	f := newFakeAPI(t)
	cfg := testConfig(f)
	cfg.MediaDir = t.TempDir()
	cfg.MaxMediaBytes = 1024
	r := start(t, cfg)

	photo := bytes.Repeat([]byte{0xFF, 0xD8, 0xAB}, 200) // 600 bytes
	f.addFile("p-small", "photos/small.jpg", []byte("tiny"), 0)
	f.addFile("p-large", "photos/large.jpg", photo, 0)
	f.addFile("p-huge", "photos/huge.jpg", bytes.Repeat([]byte("x"), 5000), 0)
	f.addFile("voice-1", "voice/v.oga", []byte("OggS-voice"), 0)
	grp := groupChat(-500, "group", false)
	alice := user(42, "alice")

	withPhoto := map[string]any{"message_id": 20, "date": 1, "chat": grp, "from": alice, "caption": "look at this",
		"photo": []any{
			map[string]any{"file_id": "p-small", "file_unique_id": "us", "width": 90, "height": 90, "file_size": 4},
			map[string]any{"file_id": "p-large", "file_unique_id": "ul", "width": 800, "height": 800, "file_size": 600},
			map[string]any{"file_id": "p-huge", "file_unique_id": "uh", "width": 2000, "height": 2000, "file_size": 5000},
		}}
	oversize := map[string]any{"message_id": 21, "date": 1, "chat": grp, "from": alice, "caption": "report",
		"document": map[string]any{"file_id": "p-huge", "file_unique_id": "dh", "file_name": "report.pdf", "file_size": 5000}}
	// no size announced anywhere: the cap applies while downloading
	f.addFile("doc-unknown-size", "documents/big.bin", bytes.Repeat([]byte("y"), 3000), -1)
	unknown := map[string]any{"message_id": 22, "date": 1, "chat": grp, "from": alice,
		"document": map[string]any{"file_id": "doc-unknown-size", "file_unique_id": "du", "file_name": "big.bin"}}
	voice := map[string]any{"message_id": 23, "date": 1, "chat": privateChat(42), "from": alice,
		"voice": map[string]any{"file_id": "voice-1", "file_unique_id": "uv", "duration": 2, "mime_type": "audio/ogg", "file_size": 10}}
	f.push(map[string]any{"message": withPhoto}, map[string]any{"message": oversize},
		map[string]any{"message": unknown}, map[string]any{"message": voice})

	in := recv(t, r.inbox)
	if in.Text != "look at this" || len(in.Media) != 1 {
		t.Fatalf("photo message: %+v", in)
	}
	m := in.Media[0]
	if m.Kind != "image" || m.MimeType != "image/jpeg" || m.Size != 600 || filepath.Dir(m.Path) != cfg.MediaDir {
		t.Fatalf("photo media: %+v", m)
	}
	if data, err := os.ReadFile(m.Path); err != nil || !bytes.Equal(data, photo) {
		t.Fatalf("saved photo: %v (%d bytes)", err, len(data))
	}

	in = recv(t, r.inbox)
	if len(in.Media) != 0 || !strings.HasPrefix(in.Text, "report\n[telegram document not downloaded: 4.9 KiB exceeds the 1.0 KiB limit]") {
		t.Fatalf("oversize: %q %+v", in.Text, in.Media)
	}
	in = recv(t, r.inbox)
	if len(in.Media) != 0 || !strings.Contains(in.Text, "not downloaded") {
		t.Fatalf("oversize while downloading: %q %+v", in.Text, in.Media)
	}
	in = recv(t, r.inbox)
	if len(in.Media) != 1 || in.Media[0].Kind != "voice" || in.Media[0].MimeType != "audio/ogg" || !strings.HasSuffix(in.Media[0].Path, ".oga") {
		t.Fatalf("voice: %+v", in.Media)
	}

	entries, _ := os.ReadDir(cfg.MediaDir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("media dir holds %v, want the photo and the voice note only", names)
	}
	f.mu.Lock()
	getFiles := f.calls["getFile"]
	f.mu.Unlock()
	if getFiles != 3 { // photo, unknown-size document, voice; not the announced-oversize one
		t.Fatalf("getFile called %d times", getFiles)
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// visible is what Telegram displays of an HTML message.
func visible(s string) string { return html.UnescapeString(tagRE.ReplaceAllString(s, "")) }

func TestSendHTML(t *testing.T) {
	f := newFakeAPI(t)
	p, err := New(testConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Send(context.Background(), channel.Outbound{To: channel.Peer{Kind: channel.PeerDirect, ID: "42"},
		Text: "**Hi** <b>&co</b> use `a<b`, see [docs](https://x.test/?a=1&b=2)", ReplyToID: "5", Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.sentMessages()
	if len(sent) != 1 || d.MessageID == "" || d.ChatID != "42" {
		t.Fatalf("sent %+v, delivery %+v", sent, d)
	}
	s := sent[0]
	want := `<b>Hi</b> &lt;b&gt;&amp;co&lt;/b&gt; use <code>a&lt;b</code>, see <a href="https://x.test/?a=1&amp;b=2">docs</a>`
	if s.Method != "sendMessage" || s.ChatID != "42" || s.Text != want || s.ParseMode != "HTML" || s.ReplyTo != 5 || !s.Silent || s.ThreadID != 0 {
		t.Fatalf("sent %+v\nwant text %s", s, want)
	}
}

func TestSendSplitsLongTextInOrderIntoTopic(t *testing.T) {
	f := newFakeAPI(t)
	p, err := New(testConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	var paras []string
	for i := range 60 {
		paras = append(paras, strings.Repeat(string(rune('a'+i%26)), 150)+" & <end>")
	}
	paras = append(paras, "```go\n"+strings.Repeat("fmt.Println(\"x < y\")\n", 300)+"```", "**done**")
	text := strings.Join(paras, "\n\n")
	to := channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "42", TopicKind: "topic"}
	if _, err := p.Send(context.Background(), channel.Outbound{To: to, Text: text, ReplyToID: "77"}); err != nil {
		t.Fatal(err)
	}
	sent := f.sentMessages()
	if len(sent) < 3 {
		t.Fatalf("want several chunks, got %d", len(sent))
	}
	var all strings.Builder
	for i, s := range sent {
		v := visible(s.Text)
		if utf16Len(v) > TextLimit || v == "" {
			t.Fatalf("chunk %d shows %d characters", i, utf16Len(v))
		}
		if s.ThreadID != 42 || s.ParseMode != "HTML" || s.ChatID != "-1001" {
			t.Fatalf("chunk %d: %+v", i, s)
		}
		if (i == 0) != (s.ReplyTo == 77) {
			t.Fatalf("chunk %d reply_to = %d", i, s.ReplyTo)
		}
		if strings.Count(s.Text, "<pre") != strings.Count(s.Text, "</pre>") {
			t.Fatalf("chunk %d has unbalanced pre: %q", i, s.Text)
		}
		all.WriteString(v)
	}
	// order and content survive: every paragraph appears, in sequence
	got, pos := all.String(), 0
	for i := range 60 {
		needle := strings.Repeat(string(rune('a'+i%26)), 150) + " & <end>"
		j := strings.Index(got[pos:], needle)
		if j < 0 {
			t.Fatalf("paragraph %d missing or out of order", i)
		}
		pos += j + len(needle)
	}
	if strings.Count(got, `fmt.Println("x < y")`) != 300 || !strings.HasSuffix(got, "done") {
		t.Fatal("code block or tail lost")
	}
}

func TestSendGeneralTopicAndTyping(t *testing.T) {
	f := newFakeAPI(t)
	p, err := New(testConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	general := channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "1", TopicKind: "topic"}
	if _, err := p.Send(context.Background(), channel.Outbound{To: general, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if s := f.sentMessages()[0]; s.ThreadID != 0 {
		t.Fatalf("General topic send carried message_thread_id %d", s.ThreadID)
	}
	if err := p.Typing(context.Background(), general); err != nil {
		t.Fatal(err)
	}
	if err := p.Typing(context.Background(), channel.Peer{Kind: channel.PeerDirect, ID: "42"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	actions := append([]sentMsg(nil), f.actions...)
	f.mu.Unlock()
	if len(actions) != 2 || actions[0].Action != "typing" || actions[0].ThreadID != 1 || actions[0].ChatID != "-1001" ||
		actions[1].ChatID != "42" || actions[1].ThreadID != 0 {
		t.Fatalf("chat actions: %+v", actions)
	}
	if err := p.Typing(context.Background(), channel.Peer{Kind: channel.PeerDirect, ID: "not-a-chat"}); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("typing to a bad id: %v", err)
	}
}

func TestSendMedia(t *testing.T) {
	f := newFakeAPI(t)
	p, err := New(testConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "cat.png")
	data := []byte("\x89PNG fake image")
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	to := channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "9", TopicKind: "topic"}
	d, err := p.Send(context.Background(), channel.Outbound{To: to, Text: "a **cat**", ReplyToID: "3", Media: []channel.Media{
		{Kind: "image", Path: img},
		{Kind: "image", URL: "https://img.test/dog.jpg"},
		{Kind: "document", Path: img, FileName: "cat-file.png"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.sentMessages()
	if len(sent) != 3 {
		t.Fatalf("sent %+v", sent)
	}
	if s := sent[0]; s.Method != "sendPhoto" || s.FileName != "cat.png" || !bytes.Equal(s.FileData, data) ||
		s.Text != "a <b>cat</b>" || s.ParseMode != "HTML" || s.ReplyTo != 3 || s.ThreadID != 9 {
		t.Fatalf("photo upload: %+v", s)
	}
	if s := sent[1]; s.Method != "sendPhoto" || s.MediaRef != "https://img.test/dog.jpg" || s.Text != "" || s.ReplyTo != 0 || s.ThreadID != 9 {
		t.Fatalf("photo by URL: %+v", s)
	}
	if s := sent[2]; s.Method != "sendDocument" || s.FileName != "cat-file.png" || !bytes.Equal(s.FileData, data) {
		t.Fatalf("document: %+v", s)
	}
	if d.MessageID == "" {
		t.Fatal("no delivery id")
	}
	_, err = p.Send(context.Background(), channel.Outbound{To: to, Media: []channel.Media{{Kind: "image", Path: "/nonexistent/x.png"}}})
	if !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSendErrorClassification(t *testing.T) {
	f := newFakeAPI(t)
	p, err := New(testConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	out := channel.Outbound{To: channel.Peer{Kind: channel.PeerDirect, ID: "42"}, Text: "hi"}
	ctx := context.Background()

	f.failNext("sendMessage", `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`)
	_, err = p.Send(ctx, out)
	var se *channel.SendError
	if !errors.Is(err, channel.ErrTransient) || !errors.As(err, &se) || se.RetryAfter != 7*time.Second {
		t.Fatalf("429: %v (%+v)", err, se)
	}

	f.failNext("sendMessage", `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`)
	if _, err = p.Send(ctx, out); !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("403: %v", err)
	}
	f.failNext("sendMessage", `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)
	if _, err = p.Send(ctx, out); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("400: %v", err)
	}
	f.failNext("sendMessage", `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)
	if _, err = p.Send(ctx, out); !errors.Is(err, channel.ErrTransient) {
		t.Fatalf("502: %v", err)
	}
	f.failNext("sendChatAction", `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`)
	if err = p.Typing(ctx, out.To); !errors.As(err, &se) || !errors.Is(err, channel.ErrTransient) || se.RetryAfter != 3*time.Second {
		t.Fatalf("typing 429: %v", err)
	}

	// HTML refused: the chunk is resent as plain text
	f.failNext("sendMessage", `{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: unsupported tag"}`)
	if _, err = p.Send(ctx, channel.Outbound{To: out.To, Text: "**x**"}); err != nil {
		t.Fatalf("parse-error fallback: %v", err)
	}
	sent := f.sentMessages()
	if last := sent[len(sent)-1]; last.Text != "**x**" || last.ParseMode != "" {
		t.Fatalf("fallback sent %+v", last)
	}

	if _, err = p.Send(ctx, channel.Outbound{To: channel.Peer{ID: "x"}, Text: "hi"}); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("bad chat id: %v", err)
	}
	if _, err = p.Send(ctx, channel.Outbound{To: out.To, Text: "  \n"}); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("empty message: %v", err)
	}

	// network failure: transient, and the token does not leak
	f.srv.Close()
	_, err = p.Send(ctx, out)
	if !errors.Is(err, channel.ErrTransient) || strings.Contains(err.Error(), f.token) {
		t.Fatalf("network error: %v", err)
	}
}

func TestWebhookMode(t *testing.T) {
	f := newFakeAPI(t)
	cfg := testConfig(f)
	cfg.WebhookURL, cfg.WebhookSecret = "https://pincer.example/telegram-webhook", "s3cret-token"
	r := start(t, cfg)
	f.mu.Lock()
	hook := f.webhook
	f.mu.Unlock()
	if hook["url"] != cfg.WebhookURL || hook["secret_token"] != cfg.WebhookSecret {
		t.Fatalf("setWebhook params: %v", hook)
	}
	if st := r.p.Status(); st.Mode != "webhook" || !st.Connected {
		t.Fatalf("status: %+v", st)
	}

	srv := httptest.NewServer(r.p.WebhookHandler())
	defer srv.Close()
	post := func(secret, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	upd := `{"update_id":555,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"A"},"text":"via hook"}}`
	if code := post("wrong", upd); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post("", upd); code != http.StatusUnauthorized {
		t.Fatalf("missing secret: %d", code)
	}
	if code := post(cfg.WebhookSecret, "{not json"); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d", code)
	}
	if code := post(cfg.WebhookSecret, upd); code != http.StatusOK {
		t.Fatalf("correct secret: %d", code)
	}
	// the update is handed over before the 200
	select {
	case in := <-r.inbox:
		if in.Text != "via hook" || in.Peer.ID != "42" || !in.Mentioned {
			t.Fatalf("webhook inbound: %+v", in)
		}
	default:
		t.Fatal("no inbound after the webhook answered 200")
	}
	// a redelivery is acknowledged but not processed again
	if code := post(cfg.WebhookSecret, upd); code != http.StatusOK {
		t.Fatalf("redelivery: %d", code)
	}
	select {
	case in := <-r.inbox:
		t.Fatalf("redelivered update processed twice: %+v", in)
	default:
	}
	if f.count("getUpdates") != 0 {
		t.Fatal("polled in webhook mode")
	}

	// not running: 503 so Telegram keeps the update
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if code := post(cfg.WebhookSecret, strings.Replace(upd, "555", "556", 1)); code != http.StatusServiceUnavailable {
		t.Fatalf("stopped: %d", code)
	}
}

func TestPollingWebhookHandlerDisabled(t *testing.T) {
	f := newFakeAPI(t)
	p, err := New(testConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.WebhookHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("webhook handler in polling mode: %d", rec.Code)
	}
}

func TestPollingRecoversFromErrors(t *testing.T) {
	f := newFakeAPI(t)
	r := start(t, testConfig(f))
	f.failNext("getUpdates", `{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}`)
	// wake the current long poll so the scripted error is answered next
	f.push(map[string]any{"message": message(1, privateChat(42), user(42, "a"), "first")})
	if in := recv(t, r.inbox); in.Text != "first" {
		t.Fatalf("got %q", in.Text)
	}
	waitFor(t, "conflict reported", func() bool { return strings.Contains(r.p.Status().LastError, "another poller") })
	f.push(map[string]any{"message": message(2, privateChat(42), user(42, "a"), "second")})
	if in := recv(t, r.inbox); in.Text != "second" {
		t.Fatalf("got %q", in.Text)
	}
	waitFor(t, "recovered", func() bool { st := r.p.Status(); return st.Connected && st.LastError == "" })
}
