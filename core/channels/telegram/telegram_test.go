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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/format"
	"github.com/pincerhq/pincer/core/channels/telegram/telegramtest"
)

const (
	waitLimit = 10 * time.Second
	testToken = "123456:TEST-token"
)

type running struct {
	p     *Plugin
	inbox chan channel.Inbound
	stop  func() error
}

func newFake(t *testing.T) *telegramtest.Server { return telegramtest.New(t, testToken) }

func testConfig(f *telegramtest.Server) Config {
	return Config{Token: f.Token(), APIRoot: f.URL(), HTTPClient: f.Client(), Log: slog.New(slog.DiscardHandler)}
}

func mustNew(t *testing.T, cfg Config) *Plugin {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs a plugin; stop cancels it and returns Start's error.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	return startPlugin(t, mustNew(t, cfg), nil)
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

// Update builders.

func user(id int64, username string) *models.User {
	return &models.User{ID: id, FirstName: "User", LastName: username, Username: username}
}

func privateChat(id int64) models.Chat {
	return models.Chat{ID: id, Type: models.ChatTypePrivate, FirstName: "User"}
}

func groupChat(id int64, typ models.ChatType, forum bool) models.Chat {
	return models.Chat{ID: id, Type: typ, Title: "Group", IsForum: forum}
}

func message(id int, chat models.Chat, from *models.User, text string) *models.Message {
	return &models.Message{ID: id, Date: 1700000000, Chat: chat, From: from, Text: text}
}

func botUser(f *telegramtest.Server) *models.User {
	b := f.Bot()
	return &b
}

func TestStartBadTokenFails(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(f)
	cfg.Token = "999:wrong"
	p := mustNew(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err := p.Start(ctx, func(context.Context, channel.Inbound) {})
	if err == nil {
		t.Fatal("Start succeeded with a bad token")
	}
	if !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "rejected the bot token") ||
		!strings.Contains(err.Error(), "channels.telegram.botToken") || strings.Contains(err.Error(), "999:wrong") {
		t.Fatalf("want a permanent token error naming the key, got %v", err)
	}
	st := p.Status()
	if st.Running || st.Connected || st.Linked || st.LastError == "" || !st.Configured {
		t.Fatalf("status after bad token: %+v", st)
	}
	if f.BadTokenRequests() != 1 || f.Calls("getUpdates") != 0 {
		t.Fatalf("bad-token requests %d, getUpdates %d", f.BadTokenRequests(), f.Calls("getUpdates"))
	}
}

func TestValidate(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	name, err := Validate(ctx, f.Token(), f.URL()+"/", f.Client())
	if err != nil || name != f.Bot().Username {
		t.Fatalf("Validate = %q, %v", name, err)
	}
	// a pasted /bot<TOKEN> endpoint is refused without echoing the token
	_, err = Validate(ctx, f.Token(), f.URL()+"/bot"+f.Token(), f.Client())
	if err == nil || strings.Contains(err.Error(), f.Token()) || !strings.Contains(err.Error(), "root only") {
		t.Fatalf("Validate with /bot suffix: %v", err)
	}
	if _, err := Validate(ctx, "1:bad", f.URL(), f.Client()); err == nil || !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("Validate bad token: %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"no token", Config{}},
		{"webhook without secret", Config{Token: "1:a", WebhookURL: "https://example.test/hook"}},
		{"bad apiRoot", Config{Token: "1:a", APIRoot: "ftp://x"}},
		{"token in apiRoot", Config{Token: "1:a", APIRoot: "https://api.telegram.org/bot1:a"}},
		{"other token in apiRoot", Config{Token: "1:a", APIRoot: "https://api.telegram.org/bot2:b/"}},
		{"chunk limit too big", Config{Token: "1:a", TextChunkLimit: 5000}},
		{"relative webhook path", Config{Token: "1:a", WebhookURL: "https://x.test/h", WebhookSecret: "s", WebhookPath: "hook"}},
	} {
		if _, err := New(c.cfg); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestPeerMapping(t *testing.T) {
	f := newFake(t)
	r := start(t, testConfig(f))
	st := r.p.Status()
	if !st.Running || !st.Connected || !st.Linked || st.Self != "@"+f.Bot().Username || st.Mode != "polling" {
		t.Fatalf("status: %+v", st)
	}
	if r.p.TextLimit() != 4096 {
		t.Fatal("TextLimit")
	}

	alice := user(42, "alice")
	forum := groupChat(-1001, models.ChatTypeSupergroup, true)
	dm := message(1, privateChat(42), alice, "hello")
	group := message(2, groupChat(-500, models.ChatTypeGroup, false), alice, "in group")
	topic := message(3, forum, alice, "in topic")
	topic.MessageThreadID, topic.IsTopicMessage = 7, true
	topic.ReplyToMessage = &models.Message{ID: 7, Date: 1, Chat: forum,
		ForumTopicCreated: &models.ForumTopicCreated{Name: "T", IconColor: 1}}
	general := message(4, forum, alice, "in general")
	channelChat := groupChat(-1009, models.ChatTypeChannel, false)
	post := message(5, channelChat, nil, "a post")
	post.SenderChat = &channelChat
	self := message(6, groupChat(-500, models.ChatTypeGroup, false), botUser(f), "me")
	super := message(7, groupChat(-1002, models.ChatTypeSupergroup, false), alice, "in supergroup")
	var ids []int64
	for _, u := range []models.Update{{Message: dm}, {Message: group}, {Message: topic}, {Message: general},
		{ChannelPost: post}, {Message: self}, {Message: super}} {
		ids = append(ids, f.AddUpdate(u))
	}

	in := recv(t, r.inbox)
	if in.Channel != "telegram" || in.AccountID != "default" || in.Peer != (channel.Peer{Kind: channel.PeerDirect, ID: "42"}) ||
		in.Sender.ID != "42" || in.Sender.Username != "alice" || in.Sender.DisplayName != "User alice" || in.Sender.IsBot || in.Sender.IsSelf ||
		in.Text != "hello" || in.MessageID != "1" || !in.Mentioned || in.Edited || in.Time.Unix() != 1700000000 || in.Raw == nil ||
		in.EventID != itoa(ids[0]) || in.ParentPeer != nil {
		t.Fatalf("dm: %+v", in)
	}
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerGroup, ID: "-500"}) || in.ParentPeer != nil || in.Mentioned || in.EventID != itoa(ids[1]) {
		t.Fatalf("group: %+v", in)
	}
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "7", TopicKind: "topic"}) ||
		in.ParentPeer == nil || *in.ParentPeer != (channel.Peer{Kind: channel.PeerGroup, ID: "-1001"}) ||
		in.ReplyToID != "" || in.Mentioned {
		t.Fatalf("topic: %+v", in)
	}
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "1", TopicKind: "topic"}) || in.ParentPeer == nil {
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
	in = recv(t, r.inbox)
	if in.Peer != (channel.Peer{Kind: channel.PeerGroup, ID: "-1002"}) || in.ParentPeer != nil {
		t.Fatalf("supergroup: %+v", in)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("Start returned %v after cancel", err)
	}
	if st := r.p.Status(); st.Running || st.Connected || !st.Linked {
		t.Fatalf("status after stop: %+v", st)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMentionDetection(t *testing.T) {
	f := newFake(t)
	r := start(t, testConfig(f))
	grp := groupChat(-500, models.ChatTypeSupergroup, false)
	bob := user(43, "bob")
	ent := func(typ models.MessageEntityType, off, n int) models.MessageEntity {
		return models.MessageEntity{Type: typ, Offset: off, Length: n}
	}

	plain := message(1, grp, bob, "pincer_test_bot without the at")
	// "😀 " is 3 UTF-16 units: offsets are in UTF-16
	mention := message(2, grp, bob, "😀 hey @Pincer_Test_Bot look")
	mention.Entities = []models.MessageEntity{ent(models.MessageEntityTypeMention, 7, 16)}
	other := message(3, grp, bob, "hey @other_bot")
	other.Entities = []models.MessageEntity{ent(models.MessageEntityTypeMention, 4, 10)}
	command := message(4, grp, bob, "/status@pincer_test_bot now")
	command.Entities = []models.MessageEntity{ent(models.MessageEntityTypeBotCommand, 0, 23)}
	reply := message(5, grp, bob, "replying")
	reply.ReplyToMessage = message(900, grp, botUser(f), "earlier")
	replyOther := message(6, grp, bob, "replying to alice")
	replyOther.ReplyToMessage = message(901, grp, user(42, "alice"), "hi")
	textMention := message(7, grp, bob, "Pincer do it")
	tm := ent(models.MessageEntityTypeTextMention, 0, 6)
	tm.User = botUser(f)
	textMention.Entities = []models.MessageEntity{tm}
	caption := &models.Message{ID: 8, Date: 1, Chat: grp, From: bob, Caption: "pic for @pincer_test_bot",
		CaptionEntities: []models.MessageEntity{ent(models.MessageEntityTypeMention, 8, 16)}}
	for _, m := range []*models.Message{plain, mention, other, command, reply, replyOther, textMention, caption} {
		f.AddUpdate(models.Update{Message: m})
	}

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

func TestEditedMessagesAndServiceMessages(t *testing.T) {
	f := newFake(t)
	r := start(t, testConfig(f))
	m := message(10, privateChat(42), user(42, "alice"), "fixed typo")
	m.EditDate = 1700000500
	grp := groupChat(-500, models.ChatTypeGroup, false)
	joined := &models.Message{ID: 11, Date: 1, Chat: grp, From: user(42, "alice"), NewChatMembers: []models.User{*user(44, "carol")}}
	sticker := &models.Message{ID: 12, Date: 1, Chat: grp, From: user(42, "alice"),
		Sticker: &models.Sticker{FileID: "s", FileUniqueID: "us", Type: "regular", Emoji: "👍"}}
	loc := &models.Message{ID: 13, Date: 1, Chat: grp, From: user(42, "alice"), Location: &models.Location{Latitude: 48.5, Longitude: 2.25}}
	post := message(14, groupChat(-1009, models.ChatTypeChannel, false), nil, "edited post")
	id := f.AddUpdate(models.Update{EditedMessage: m})
	f.AddUpdate(models.Update{Message: joined})
	f.AddUpdate(models.Update{Message: sticker})
	f.AddUpdate(models.Update{Message: loc})
	f.AddUpdate(models.Update{EditedChannelPost: post})

	in := recv(t, r.inbox)
	if !in.Edited || in.Text != "fixed typo" || in.MessageID != "10" || in.Time.Unix() != 1700000500 || in.EventID != itoa(id) {
		t.Fatalf("edited: %+v", in)
	}
	// the member-joined service message is skipped
	if in = recv(t, r.inbox); in.MessageID != "12" || in.Text != "👍" {
		t.Fatalf("sticker: %+v", in)
	}
	if in = recv(t, r.inbox); in.MessageID != "13" || in.Text != "[location: 48.500000, 2.250000]" {
		t.Fatalf("location: %+v", in)
	}
	if in = recv(t, r.inbox); !in.Edited || in.Peer.Kind != channel.PeerChannel || in.Text != "edited post" {
		t.Fatalf("edited channel post: %+v", in)
	}
}

func TestOffsetPersistenceAcrossRestart(t *testing.T) {
	f := newFake(t)
	f.RetainConfirmed()
	offsets := NewMemoryOffsetStore()
	cfg := testConfig(f)
	cfg.AccountID = "work"
	cfg.OffsetStore = offsets
	ctx := context.Background()
	botID := f.Bot().ID

	p1 := mustNew(t, cfg)
	// The offset must not have moved past an update while it is handled.
	var early []string
	r1 := startPlugin(t, p1, func(in channel.Inbound) {
		off, _ := offsets.LoadOffset(ctx, "work", botID)
		if u := in.Raw.(*models.Update).ID; off > u {
			early = append(early, in.MessageID)
		}
	})
	chat, alice := privateChat(42), user(42, "alice")
	var ids []int64
	for i, text := range []string{"one", "two", "three"} {
		ids = append(ids, f.AddUpdate(models.Update{Message: message(i+1, chat, alice, text)}))
	}
	for _, want := range []string{"one", "two", "three"} {
		if in := recv(t, r1.inbox); in.Text != want {
			t.Fatalf("got %q, want %q", in.Text, want)
		}
	}
	waitFor(t, "offset saved", func() bool { off, _ := offsets.LoadOffset(ctx, "work", botID); return off == ids[2]+1 })
	if len(early) > 0 {
		t.Fatalf("offset advanced before the handler ran for %v", early)
	}
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}

	// Same store: the restart resumes after "three" and sees only new updates.
	r2 := startPlugin(t, mustNew(t, cfg), nil)
	f.AddUpdate(models.Update{Message: message(4, chat, alice, "four")})
	if in := recv(t, r2.inbox); in.Text != "four" {
		t.Fatalf("after restart got %q, want only the new update", in.Text)
	}
	polled := f.Offsets()
	if polled[0] != 0 {
		t.Fatalf("first start polled with offset %d", polled[0])
	}
	var resumed bool
	for _, o := range polled[1:] {
		if o == ids[2]+1 {
			resumed = true
		}
		if o != 0 && o < ids[0]+1 {
			t.Fatalf("polled with a stale offset %d", o)
		}
	}
	if !resumed {
		t.Fatalf("never polled with offset %d: %v", ids[2]+1, polled)
	}
	_ = r2.stop()
	if off, _ := offsets.LoadOffset(ctx, "work", botID); off != ids[2]+2 {
		t.Fatalf("offset after restart = %d, want %d", off, ids[2]+2)
	}
	// An offset belongs to its bot: another bot on the account starts over.
	if off, _ := offsets.LoadOffset(ctx, "work", botID+1); off != 0 {
		t.Fatalf("offset for another bot = %d", off)
	}

	// Sanity check of the fake: without the saved offset everything
	// would have come again.
	cfg.OffsetStore = NewMemoryOffsetStore()
	r3 := startPlugin(t, mustNew(t, cfg), nil)
	if in := recv(t, r3.inbox); in.Text != "one" {
		t.Fatalf("fresh store got %q", in.Text)
	}
}

func TestInboundMedia(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(f)
	cfg.MediaDir = t.TempDir()
	cfg.MaxMediaBytes = 1024
	r := start(t, cfg)

	photo := bytes.Repeat([]byte{0xFF, 0xD8, 0xAB}, 200) // 600 bytes
	f.AddFile(telegramtest.File{ID: "p-small", Path: "photos/small.jpg", Data: []byte("tiny")})
	f.AddFile(telegramtest.File{ID: "p-large", Path: "photos/large.jpg", Data: photo})
	f.AddFile(telegramtest.File{ID: "p-huge", Path: "photos/huge.jpg", Data: bytes.Repeat([]byte("x"), 5000)})
	f.AddFile(telegramtest.File{ID: "voice-1", Path: "voice/v.oga", Data: []byte("OggS-voice")})
	f.AddFile(telegramtest.File{ID: "audio-1", Path: "music/file_7.mp3", Data: []byte("ID3-audio")})
	f.AddFile(telegramtest.File{ID: "video-1", Path: "videos/file_8", Data: []byte("mp4-video")})
	f.AddFile(telegramtest.File{ID: "doc-1", Path: "documents/file_9.pdf", Data: []byte("%PDF-1.4")})
	// no size announced anywhere: the cap applies while downloading
	f.AddFile(telegramtest.File{ID: "doc-unknown-size", Path: "documents/big.bin", Data: bytes.Repeat([]byte("y"), 3000), ReportedSize: -1})
	grp := groupChat(-500, models.ChatTypeGroup, false)
	alice := user(42, "alice")

	withPhoto := &models.Message{ID: 20, Date: 1, Chat: grp, From: alice, Caption: "look at this", Photo: []models.PhotoSize{
		{FileID: "p-small", FileUniqueID: "us", Width: 90, Height: 90, FileSize: 4},
		{FileID: "p-large", FileUniqueID: "ul", Width: 800, Height: 800, FileSize: 600},
		{FileID: "p-huge", FileUniqueID: "uh", Width: 2000, Height: 2000, FileSize: 5000},
	}}
	oversize := &models.Message{ID: 21, Date: 1, Chat: grp, From: alice, Caption: "report",
		Document: &models.Document{FileID: "p-huge", FileUniqueID: "dh", FileName: "report.pdf", FileSize: 5000}}
	unknown := &models.Message{ID: 22, Date: 1, Chat: grp, From: alice,
		Document: &models.Document{FileID: "doc-unknown-size", FileUniqueID: "du", FileName: "big.bin"}}
	voice := &models.Message{ID: 23, Date: 1, Chat: privateChat(42), From: alice,
		Voice: &models.Voice{FileID: "voice-1", FileUniqueID: "uv", Duration: 2, MimeType: "audio/ogg", FileSize: 10}}
	audio := &models.Message{ID: 24, Date: 1, Chat: privateChat(42), From: alice,
		Audio: &models.Audio{FileID: "audio-1", FileUniqueID: "ua", MimeType: "audio/mpeg", FileName: "song.mp3", FileSize: 9}}
	video := &models.Message{ID: 25, Date: 1, Chat: privateChat(42), From: alice,
		Video: &models.Video{FileID: "video-1", FileUniqueID: "uvid", FileSize: 9}}
	doc := &models.Message{ID: 26, Date: 1, Chat: privateChat(42), From: alice, Caption: "the doc",
		Document: &models.Document{FileID: "doc-1", FileUniqueID: "ud", MimeType: "application/pdf", FileName: "../../evil name.pdf", FileSize: 8}}
	for _, m := range []*models.Message{withPhoto, oversize, unknown, voice, audio, video, doc} {
		f.AddUpdate(models.Update{Message: m})
	}

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
	in = recv(t, r.inbox)
	if len(in.Media) != 1 || in.Media[0].Kind != "audio" || in.Media[0].MimeType != "audio/mpeg" || in.Media[0].FileName != "song.mp3" ||
		!strings.HasSuffix(in.Media[0].Path, ".mp3") || in.Text != "" {
		t.Fatalf("audio: %+v %q", in.Media, in.Text)
	}
	in = recv(t, r.inbox)
	if len(in.Media) != 1 || in.Media[0].Kind != "video" || in.Media[0].MimeType != "video/mp4" || !strings.HasSuffix(in.Media[0].Path, ".mp4") {
		t.Fatalf("video: %+v", in.Media)
	}
	in = recv(t, r.inbox)
	if len(in.Media) != 1 || in.Media[0].Kind != "document" || in.Text != "the doc" || filepath.Dir(in.Media[0].Path) != cfg.MediaDir ||
		!strings.HasSuffix(in.Media[0].Path, ".pdf") {
		t.Fatalf("document: %+v", in.Media)
	}

	entries, _ := os.ReadDir(cfg.MediaDir)
	if len(entries) != 5 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("media dir holds %v, want the photo, voice, audio, video and document", names)
	}
	// photo, unknown-size document, voice, audio, video, document; not the announced-oversize one
	if n := f.Calls("getFile"); n != 6 {
		t.Fatalf("getFile called %d times", n)
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// visible is what Telegram displays of an HTML message.
func visible(s string) string { return html.UnescapeString(tagRE.ReplaceAllString(s, "")) }

func directPeer() channel.Peer { return channel.Peer{Kind: channel.PeerDirect, ID: "42"} }

func TestSendHTML(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	md := "**Hi** <b>&co</b> use `a<b`, see [docs](https://x.test/?a=1&b=2)"
	d, err := p.Send(context.Background(), channel.Outbound{To: directPeer(), Text: md, ReplyToID: "5", Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.Sent()
	if len(sent) != 1 || d.MessageID != itoa(int64(sent[0].MessageID)) || d.ChatID != "42" {
		t.Fatalf("sent %+v, delivery %+v", sent, d)
	}
	s := sent[0]
	want := `<b>Hi</b> &lt;b&gt;&amp;co&lt;/b&gt; use <code>a&lt;b</code>, see <a href="https://x.test/?a=1&amp;b=2">docs</a>`
	if s.Method != "sendMessage" || s.ChatID != "42" || s.Text != want || s.Text != format.TelegramHTML(md) ||
		s.ParseMode != "HTML" || s.ReplyTo != 5 || !s.Silent || s.ThreadID != 0 || s.NoLinkPreview {
		t.Fatalf("sent %+v\nwant text %s", s, want)
	}
}

func TestSendLinkPreviewDisabled(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(f)
	cfg.DisableLinkPreview = true
	p := mustNew(t, cfg)
	if _, err := p.Send(context.Background(), channel.Outbound{To: directPeer(), Text: "see https://x.test"}); err != nil {
		t.Fatal(err)
	}
	if s := f.Sent(); len(s) != 1 || !s[0].NoLinkPreview {
		t.Fatalf("sent %+v", s)
	}
}

func TestSendSplitsLongTextInOrderIntoTopic(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
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
	sent := f.Sent()
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

// Telegram counts a message's length in UTF-16 code units: 3000 emoji are
// 3000 runes but 6000 units, so they need two messages.
func TestSendCountsUTF16(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	text := strings.Repeat("😀", 3000)
	if _, err := p.Send(context.Background(), channel.Outbound{To: directPeer(), Text: text}); err != nil {
		t.Fatal(err)
	}
	sent := f.Sent()
	var joined strings.Builder
	for i, s := range sent {
		if n := utf16Len(visible(s.Text)); n > TextLimit {
			t.Fatalf("message %d is %d UTF-16 units", i, n)
		}
		if strings.ContainsRune(s.Text, '\uFFFD') {
			t.Fatalf("message %d cut an emoji in half", i)
		}
		joined.WriteString(s.Text)
	}
	if len(sent) != 2 || joined.String() != text {
		t.Fatalf("%d messages; content kept: %v", len(sent), joined.String() == text)
	}

	// exactly 4096 units fit in one message; one more does not
	for _, c := range []struct {
		text string
		msgs int
	}{{strings.Repeat("a", 4094) + "😀", 1}, {strings.Repeat("a", 4095) + "😀", 2}} {
		before := len(f.Sent())
		if _, err := p.Send(context.Background(), channel.Outbound{To: directPeer(), Text: c.text}); err != nil {
			t.Fatal(err)
		}
		if n := len(f.Sent()) - before; n != c.msgs {
			t.Fatalf("%d units: %d messages, want %d", utf16Len(c.text), n, c.msgs)
		}
	}
}

func TestSendTextChunkLimit(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(f)
	cfg.TextChunkLimit = 100
	p := mustNew(t, cfg)
	if p.TextLimit() != 100 {
		t.Fatalf("TextLimit = %d", p.TextLimit())
	}
	text := strings.Repeat("Sentence with ü and 😀 in it. ", 40)
	if _, err := p.Send(context.Background(), channel.Outbound{To: directPeer(), Text: text}); err != nil {
		t.Fatal(err)
	}
	sent := f.Sent()
	if len(sent) < 10 {
		t.Fatalf("%d messages", len(sent))
	}
	for i, s := range sent {
		if n := utf16Len(visible(s.Text)); n > 100 {
			t.Fatalf("message %d is %d units: %q", i, n, s.Text)
		}
		if !strings.HasSuffix(s.Text, ".") {
			t.Fatalf("message %d does not end at a sentence: %q", i, s.Text)
		}
	}
}

func TestSendGeneralTopicAndTyping(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	general := channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "1", TopicKind: "topic"}
	if _, err := p.Send(context.Background(), channel.Outbound{To: general, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if s := f.Sent()[0]; s.ThreadID != 0 {
		t.Fatalf("General topic send carried message_thread_id %d", s.ThreadID)
	}
	if err := p.Typing(context.Background(), general); err != nil {
		t.Fatal(err)
	}
	if err := p.Typing(context.Background(), directPeer()); err != nil {
		t.Fatal(err)
	}
	actions := f.Actions()
	if len(actions) != 2 || actions[0].Action != "typing" || actions[0].ThreadID != 1 || actions[0].ChatID != "-1001" ||
		actions[1].ChatID != "42" || actions[1].ThreadID != 0 {
		t.Fatalf("chat actions: %+v", actions)
	}
	if err := p.Typing(context.Background(), channel.Peer{Kind: channel.PeerDirect, ID: "not-a-chat"}); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("typing to a bad id: %v", err)
	}
}

func TestSendMedia(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	dir := t.TempDir()
	img := filepath.Join(dir, "cat.png")
	data := []byte("\x89PNG fake image")
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	to := channel.Peer{Kind: channel.PeerGroup, ID: "-1001", ThreadID: "9", TopicKind: "topic"}
	d, err := p.Send(context.Background(), channel.Outbound{To: to, Text: "a **cat**", ReplyToID: "3", Media: []channel.Media{
		{Kind: "image", Path: img},
		{Kind: "image", URL: "https://img.test/dog.jpg"},
		{Kind: "voice", Path: img, FileName: "note.ogg"},
		{Kind: "audio", URL: "https://img.test/song.mp3"},
		{Kind: "video", URL: "https://img.test/clip.mp4"},
		{Kind: "document", Path: img, FileName: "cat-file.png"},
		{Kind: "", URL: "https://img.test/other.bin"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.Sent()
	if len(sent) != 7 {
		t.Fatalf("sent %+v", sent)
	}
	if s := sent[0]; s.Method != "sendPhoto" || s.FileName != "cat.png" || !bytes.Equal(s.FileData, data) ||
		s.Text != "a <b>cat</b>" || s.ParseMode != "HTML" || s.ReplyTo != 3 || s.ThreadID != 9 {
		t.Fatalf("photo upload: %+v", s)
	}
	if s := sent[1]; s.Method != "sendPhoto" || s.MediaRef != "https://img.test/dog.jpg" || s.Text != "" || s.ReplyTo != 0 || s.ThreadID != 9 {
		t.Fatalf("photo by URL: %+v", s)
	}
	for i, want := range []struct{ method, name, ref string }{
		{"sendVoice", "note.ogg", ""}, {"sendAudio", "", "https://img.test/song.mp3"}, {"sendVideo", "", "https://img.test/clip.mp4"},
		{"sendDocument", "cat-file.png", ""}, {"sendDocument", "", "https://img.test/other.bin"},
	} {
		if s := sent[2+i]; s.Method != want.method || s.FileName != want.name || s.MediaRef != want.ref || s.ThreadID != 9 || s.Text != "" {
			t.Fatalf("media %d: %+v, want %+v", 2+i, s, want)
		}
	}
	if d.MessageID != itoa(int64(sent[0].MessageID)) {
		t.Fatalf("delivery %+v", d)
	}
	_, err = p.Send(context.Background(), channel.Outbound{To: to, Media: []channel.Media{{Kind: "image", Path: "/nonexistent/x.png"}}})
	if !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("missing file: %v", err)
	}
	_, err = p.Send(context.Background(), channel.Outbound{To: to, Media: []channel.Media{{Kind: "image", Path: dir}}})
	if !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("directory as attachment: %v", err)
	}
}

// Text longer than a caption follows the media as messages.
func TestSendMediaCaptionOverflow(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	long := strings.Repeat("word ", 300) // 1500 characters
	_, err := p.Send(context.Background(), channel.Outbound{To: directPeer(), Text: long, ReplyToID: "8",
		Media: []channel.Media{{Kind: "image", URL: "https://img.test/a.jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.Sent()
	if len(sent) != 2 || sent[0].Method != "sendPhoto" || sent[0].Text != "" || sent[0].ReplyTo != 8 ||
		sent[1].Method != "sendMessage" || sent[1].Text != strings.TrimSpace(long) || sent[1].ReplyTo != 0 {
		t.Fatalf("sent %+v", sent)
	}

	// a caption of exactly 1024 UTF-16 units still fits
	exact := strings.Repeat("😀", 512)
	if _, err := p.Send(context.Background(), channel.Outbound{To: directPeer(), Text: exact,
		Media: []channel.Media{{Kind: "document", URL: "https://img.test/b.pdf"}}}); err != nil {
		t.Fatal(err)
	}
	if s := f.Sent(); len(s) != 3 || s[2].Text != exact {
		t.Fatalf("exact caption: %d messages", len(s))
	}
}

func TestSendErrorClassification(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	out := channel.Outbound{To: directPeer(), Text: "hi"}
	ctx := context.Background()

	f.FailNext("sendMessage", 429, "Too Many Requests: retry after 7", 7)
	_, err := p.Send(ctx, out)
	var se *channel.SendError
	if !errors.Is(err, channel.ErrTransient) || !errors.As(err, &se) || se.RetryAfter != 7*time.Second {
		t.Fatalf("429: %v (%+v)", err, se)
	}
	f.FailNext("sendMessage", 403, "Forbidden: bot was blocked by the user", 0)
	if _, err = p.Send(ctx, out); !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("403: %v", err)
	}
	f.FailNext("sendMessage", 400, "Bad Request: chat not found", 0)
	if _, err = p.Send(ctx, out); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("400: %v", err)
	}
	f.FailNext("sendMessage", 502, "Bad Gateway", 0)
	if _, err = p.Send(ctx, out); !errors.Is(err, channel.ErrTransient) {
		t.Fatalf("502: %v", err)
	}
	f.FailNext("sendChatAction", 429, "Too Many Requests: retry after 3", 3)
	if err = p.Typing(ctx, out.To); !errors.As(err, &se) || !errors.Is(err, channel.ErrTransient) || se.RetryAfter != 3*time.Second {
		t.Fatalf("typing 429: %v", err)
	}
	f.FailNext("sendPhoto", 429, "Too Many Requests: retry after 2", 2)
	_, err = p.Send(ctx, channel.Outbound{To: out.To, Media: []channel.Media{{Kind: "image", URL: "https://img.test/a.jpg"}}})
	if !errors.As(err, &se) || !errors.Is(err, channel.ErrTransient) || se.RetryAfter != 2*time.Second {
		t.Fatalf("photo 429: %v", err)
	}

	// HTML refused: the chunk is resent as plain text
	f.FailNext("sendMessage", 400, "Bad Request: can't parse entities: unsupported tag", 0)
	if _, err = p.Send(ctx, channel.Outbound{To: out.To, Text: "**x** [y](https://y.test)"}); err != nil {
		t.Fatalf("parse-error fallback: %v", err)
	}
	sent := f.Sent()
	if last := sent[len(sent)-1]; last.Text != "x y (https://y.test)" || last.ParseMode != "" {
		t.Fatalf("fallback sent %+v", last)
	}
	// …and so is a caption, with the upload sent again
	img := filepath.Join(t.TempDir(), "a.png")
	if err := os.WriteFile(img, []byte("png"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.FailNext("sendPhoto", 400, "Bad Request: can't parse entities: oops", 0)
	if _, err = p.Send(ctx, channel.Outbound{To: out.To, Text: "**cap**", Media: []channel.Media{{Kind: "image", Path: img}}}); err != nil {
		t.Fatalf("caption fallback: %v", err)
	}
	sent = f.Sent()
	if last := sent[len(sent)-1]; last.Text != "cap" || last.ParseMode != "" || string(last.FileData) != "png" {
		t.Fatalf("caption fallback sent %+v", last)
	}

	if _, err = p.Send(ctx, channel.Outbound{To: channel.Peer{ID: "x"}, Text: "hi"}); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("bad chat id: %v", err)
	}
	if _, err = p.Send(ctx, channel.Outbound{To: out.To, Text: "  \n"}); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("empty message: %v", err)
	}

	// network failure: transient, and the token does not leak
	f.Close()
	_, err = p.Send(ctx, out)
	if !errors.Is(err, channel.ErrTransient) || strings.Contains(err.Error(), f.Token()) {
		t.Fatalf("network error: %v", err)
	}
}

func TestReact(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	ctx := context.Background()
	if err := p.React(ctx, directPeer(), "17", "👍"); err != nil {
		t.Fatal(err)
	}
	if err := p.React(ctx, directPeer(), "17", ""); err != nil {
		t.Fatal(err)
	}
	rs := f.Reactions()
	if len(rs) != 2 || rs[0] != (telegramtest.Reaction{ChatID: "42", MessageID: 17, Emoji: "👍"}) ||
		rs[1] != (telegramtest.Reaction{ChatID: "42", MessageID: 17}) {
		t.Fatalf("reactions %+v", rs)
	}
	if err := p.React(ctx, directPeer(), "x", "👍"); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("bad message id: %v", err)
	}
	f.FailNext("setMessageReaction", 400, "Bad Request: REACTION_INVALID", 0)
	if err := p.React(ctx, directPeer(), "17", "🦀"); !errors.Is(err, channel.ErrPermanent) {
		t.Fatalf("invalid reaction: %v", err)
	}
	f.FailNext("setMessageReaction", 429, "Too Many Requests", 4)
	var se *channel.SendError
	if err := p.React(ctx, directPeer(), "17", "👍"); !errors.As(err, &se) || se.RetryAfter != 4*time.Second {
		t.Fatalf("429: %v", err)
	}
}

func TestWebhookMode(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(f)
	cfg.WebhookURL, cfg.WebhookSecret = "https://pincer.example/telegram-webhook", "s3cret-token"
	r := start(t, cfg)
	hook := f.Webhook()
	if hook["url"] != cfg.WebhookURL || hook["secret_token"] != cfg.WebhookSecret {
		t.Fatalf("setWebhook params: %v", hook)
	}
	if st := r.p.Status(); st.Mode != "webhook" || !st.Connected {
		t.Fatalf("status: %+v", st)
	}
	if r.p.WebhookPath() != "/telegram-webhook" {
		t.Fatalf("WebhookPath = %q", r.p.WebhookPath())
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
		if in.Text != "via hook" || in.Peer.ID != "42" || !in.Mentioned || in.EventID != "555" {
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
	if f.Calls("getUpdates") != 0 {
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
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	if p.WebhookPath() != "" {
		t.Fatalf("WebhookPath in polling mode = %q", p.WebhookPath())
	}
	rec := httptest.NewRecorder()
	p.WebhookHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("webhook handler in polling mode: %d", rec.Code)
	}
}

func TestPollingRecoversFromErrors(t *testing.T) {
	f := newFake(t)
	r := start(t, testConfig(f))
	f.FailNext("getUpdates", 409, "Conflict: terminated by other getUpdates request", 0)
	// wake the current long poll so the scripted error is answered next
	f.UserText(42, 42, "a", "first")
	if in := recv(t, r.inbox); in.Text != "first" {
		t.Fatalf("got %q", in.Text)
	}
	waitFor(t, "conflict reported", func() bool { return strings.Contains(r.p.Status().LastError, "another poller") })
	f.UserText(42, 42, "a", "second")
	if in := recv(t, r.inbox); in.Text != "second" {
		t.Fatalf("got %q", in.Text)
	}
	waitFor(t, "recovered", func() bool { st := r.p.Status(); return st.Connected && st.LastError == "" })
}

func TestProbe(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	res, err := p.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := res.(map[string]any)
	b, _ := m["bot"].(map[string]any)
	if m["ok"] != true || b == nil || b["id"] != f.Bot().ID || b["username"] != "pincer_test_bot" || b["firstName"] != "Pincer Test" {
		t.Fatalf("probe: %+v", m)
	}
	if _, ok := m["elapsedMs"].(int64); !ok {
		t.Fatalf("elapsedMs: %+v", m)
	}
	if st := p.Status(); !st.Linked || st.Self != "@pincer_test_bot" {
		t.Fatalf("status after probe: %+v", st)
	}

	bad := testConfig(f)
	bad.Token = "1:revoked"
	res, err = mustNew(t, bad).Probe(context.Background())
	m = res.(map[string]any)
	if !errors.Is(err, channel.ErrPermanent) || m["ok"] != false || m["status"] != 401 || !strings.Contains(m["error"].(string), "Unauthorized") {
		t.Fatalf("bad token probe: %+v, %v", m, err)
	}

	f.FailNext("getMe", 429, "Too Many Requests", 5)
	res, err = p.Probe(context.Background())
	if m = res.(map[string]any); !errors.Is(err, channel.ErrTransient) || m["status"] != 429 {
		t.Fatalf("rate-limited probe: %+v, %v", m, err)
	}
	f.Close()
	res, err = p.Probe(context.Background())
	if m = res.(map[string]any); !errors.Is(err, channel.ErrTransient) || m["ok"] != false || m["status"] != nil {
		t.Fatalf("unreachable probe: %+v, %v", m, err)
	}
}

func TestStatusDetails(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(f)
	cfg.TokenSource = TokenSourceFile
	p := mustNew(t, cfg)
	d := p.StatusDetails()
	if d["tokenSource"] != "tokenFile" || d["botTokenSource"] != "tokenFile" || d["mode"] != "polling" ||
		d["baseUrl"] != f.URL() || d["webhookUrl"] != nil || d["webhookPath"] != nil || d["bot"] != nil {
		t.Fatalf("details before start: %+v", d)
	}
	r := startPlugin(t, p, nil)
	if b, _ := r.p.StatusDetails()["bot"].(map[string]any); b == nil || b["username"] != "pincer_test_bot" {
		t.Fatalf("details after start: %+v", r.p.StatusDetails())
	}

	cfg = testConfig(f)
	cfg.AccountID, cfg.WebhookURL, cfg.WebhookSecret = "work", "https://gw.example/telegram-webhook/work", "hook-secret"
	d = mustNew(t, cfg).StatusDetails()
	if d["tokenSource"] != "config" || d["mode"] != "webhook" || d["webhookPath"] != "/telegram-webhook/work" ||
		d["webhookUrl"] != cfg.WebhookURL {
		t.Fatalf("webhook details: %+v", d)
	}
	for k, v := range d {
		if s, ok := v.(string); ok && (strings.Contains(s, f.Token()) || strings.Contains(s, "hook-secret")) {
			t.Fatalf("detail %s leaks a secret: %q", k, s)
		}
	}
}

// A rate limit part-way through a long message: the retry sends only the
// parts Telegram did not take.
func TestSendRetryAfterPartialDelivery(t *testing.T) {
	f := newFake(t)
	p := mustNew(t, testConfig(f))
	var paras []string
	for i := range 3 {
		paras = append(paras, strings.Repeat(string(rune('a'+i)), 3000))
	}
	msg := channel.Outbound{To: channel.Peer{Kind: channel.PeerDirect, ID: "5"}, Text: strings.Join(paras, "\n\n"), ReplyToID: "9"}
	f.FailAfter("sendMessage", 1, 429, "Too Many Requests: retry after 3", 3)
	d1, err := p.Send(context.Background(), msg)
	var se *channel.SendError
	if !errors.As(err, &se) || !errors.Is(err, channel.ErrTransient) || se.RetryAfter != 3*time.Second {
		t.Fatalf("partial send error = %v", err)
	}
	if len(f.Sent()) != 1 || d1.MessageID == "" {
		t.Fatalf("before retry: sent %d, delivery %+v", len(f.Sent()), d1)
	}
	d2, err := p.Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	sent := f.Sent()
	if len(sent) != 3 || d2.MessageID != d1.MessageID {
		t.Fatalf("after retry: %d messages, delivery %+v (first %+v)", len(sent), d2, d1)
	}
	for i, s := range sent {
		if !strings.Contains(s.Text, strings.Repeat(string(rune('a'+i)), 100)) {
			t.Fatalf("message %d out of order: %.20q", i, s.Text)
		}
		if (i == 0) != (s.ReplyTo == 9) {
			t.Fatalf("message %d reply_to %d", i, s.ReplyTo)
		}
	}
	// Sending the same message again later is a new message: all parts.
	if _, err := p.Send(context.Background(), msg); err != nil || len(f.Sent()) != 6 {
		t.Fatalf("resend: %v, %d", err, len(f.Sent()))
	}
}
