package telegramtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func call(t *testing.T, s *Server, token, method string, form url.Values) answer {
	t.Helper()
	resp, err := s.Client().PostForm(s.URL()+"/bot"+token+"/"+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	if !a.OK && resp.StatusCode != a.ErrorCode {
		t.Fatalf("%s: HTTP %d for error_code %d", method, resp.StatusCode, a.ErrorCode)
	}
	return a
}

func TestServer(t *testing.T) {
	const token = "42:secret"
	s := New(t, token)
	if s.TokenUsed() || s.Bot().ID != 42 {
		t.Fatalf("fresh server: used %v, bot %+v", s.TokenUsed(), s.Bot())
	}
	if a := call(t, s, "42:wrong", "getMe", nil); a.OK || a.ErrorCode != 401 || s.BadTokenRequests() != 1 || s.TokenUsed() {
		t.Fatalf("wrong token: %+v", a)
	}
	var me models.User
	if a := call(t, s, token, "getMe", nil); !a.OK || json.Unmarshal(a.Result, &me) != nil || me.Username != "pincer_test_bot" || !s.TokenUsed() {
		t.Fatalf("getMe: %+v", a)
	}

	// long polling: an empty poll ends after the (bounded) timeout
	start := time.Now()
	if a := call(t, s, token, "getUpdates", url.Values{"timeout": {"1"}}); !a.OK || string(a.Result) != "[]\n" && string(a.Result) != "[]" {
		t.Fatalf("empty poll: %s", a.Result)
	}
	if d := time.Since(start); d < time.Second || d > MaxPoll {
		t.Fatalf("empty poll took %v", d)
	}
	id1 := s.UserText(7, 7, "ann", "hi")
	id2 := s.UserText(-100, 7, "ann", "group")
	var ups []models.Update
	a := call(t, s, token, "getUpdates", url.Values{"offset": {"0"}})
	if json.Unmarshal(a.Result, &ups) != nil || len(ups) != 2 || ups[0].ID != id1 || ups[1].ID != id2 ||
		ups[0].Message.Chat.Type != models.ChatTypePrivate || ups[1].Message.Chat.Type != models.ChatTypeSupergroup {
		t.Fatalf("updates %+v", ups)
	}
	// a higher offset confirms (drops) the earlier updates
	a = call(t, s, token, "getUpdates", url.Values{"offset": {itoa(id2)}})
	if json.Unmarshal(a.Result, &ups) != nil || len(ups) != 1 || ups[0].ID != id2 {
		t.Fatalf("after offset: %s", a.Result)
	}
	a = call(t, s, token, "getUpdates", url.Values{"offset": {"0"}, "timeout": {"0"}})
	if json.Unmarshal(a.Result, &ups) != nil || len(ups) != 1 {
		t.Fatalf("confirmed update came back: %s", a.Result)
	}
	// a waiting poll wakes up on a new update
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.AddUpdate(models.Update{Message: &models.Message{ID: 5, Chat: models.Chat{ID: 7, Type: "private"}, Text: "late"}})
	}()
	a = call(t, s, token, "getUpdates", url.Values{"offset": {itoa(id2 + 1)}, "timeout": {"30"}})
	if json.Unmarshal(a.Result, &ups) != nil || len(ups) != 1 || ups[0].Message.Text != "late" {
		t.Fatalf("woken poll: %s", a.Result)
	}
	if got := s.Offsets(); len(got) != 5 || got[2] != id2 {
		t.Fatalf("offsets %v", got)
	}

	// webhooks block polling, as on Telegram
	call(t, s, token, "setWebhook", url.Values{"url": {"https://x.test/h"}, "secret_token": {"s"}})
	if a := call(t, s, token, "getUpdates", nil); a.OK || a.ErrorCode != 409 || s.Webhook()["url"] != "https://x.test/h" {
		t.Fatalf("poll with webhook: %+v", a)
	}
	call(t, s, token, "deleteWebhook", nil)
	if s.Webhook() != nil {
		t.Fatal("webhook kept")
	}

	// sends, scripted failures, WaitSent
	s.FailNext("sendMessage", 429, "Too Many Requests: retry after 3", 3)
	if a := call(t, s, token, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"x"}}); a.OK || a.ErrorCode != 429 || a.Parameters.RetryAfter != 3 {
		t.Fatalf("scripted failure: %+v", a)
	}
	call(t, s, token, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"<b>x</b>"}, "parse_mode": {"HTML"},
		"message_thread_id": {"4"}, "reply_parameters": {`{"message_id":9}`}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sent, err := s.WaitSent(ctx, 1)
	if err != nil || len(sent) != 1 || !reflect.DeepEqual(sent[0], SentMessage{Method: "sendMessage", MessageID: sent[0].MessageID, ChatID: "7",
		Text: "<b>x</b>", ParseMode: "HTML", ReplyTo: 9, ThreadID: 4}) {
		t.Fatalf("sent %+v, %v", sent, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := s.WaitSent(short, 2); err == nil || !strings.Contains(err.Error(), "got 1") {
		t.Fatalf("WaitSent past its deadline: %v", err)
	}
	if s.Calls("sendMessage") != 2 {
		t.Fatalf("calls %d", s.Calls("sendMessage"))
	}

	// files
	s.AddFile(File{ID: "f1", Path: "docs/a.txt", Data: []byte("hello")})
	var f models.File
	if a := call(t, s, token, "getFile", url.Values{"file_id": {"f1"}}); json.Unmarshal(a.Result, &f) != nil || f.FilePath != "docs/a.txt" || f.FileSize != 5 {
		t.Fatalf("getFile: %s", a.Result)
	}
	resp, err := s.Client().Get(s.URL() + "/file/bot" + token + "/docs/a.txt")
	if err != nil || resp.StatusCode != http.StatusOK || s.Downloads() != 1 {
		t.Fatalf("download: %v %v", resp, err)
	}
	resp.Body.Close()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
