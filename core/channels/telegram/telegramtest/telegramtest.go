// Package telegramtest is a fake Telegram Bot API server for tests: an
// httptest server on loopback that speaks the subset of the Bot API the
// telegram channel uses (getMe, getUpdates long polling with offsets,
// webhooks, sends with multipart uploads, chat actions, reactions, getFile
// and file downloads), records what the bot sent, and fails calls on
// request.
//
// Point an account at it with apiRoot = URL() and botToken = Token() (and
// the HTTP client Client()), inject messages with UserText or AddUpdate,
// and read the replies with WaitSent.
package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// MaxPoll bounds how long one getUpdates call waits for updates, whatever
// timeout the client asks for, so a test never hangs on a long poll.
const MaxPoll = 5 * time.Second

// SentMessage is a message the bot sent (sendMessage, sendPhoto, …).
type SentMessage struct {
	Method    string // "sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo"
	MessageID int    // the id the fake assigned
	ChatID    string
	Text      string // text, or the caption of a media message
	ParseMode string
	ReplyTo   int // reply_parameters.message_id
	ThreadID  int // message_thread_id
	Silent    bool
	// NoLinkPreview: link_preview_options.is_disabled was set.
	NoLinkPreview bool
	// FileName and FileData are an uploaded file; MediaRef is a URL or
	// file_id given instead of an upload.
	FileName string
	FileData []byte
	MediaRef string
}

// ChatAction is a sendChatAction call.
type ChatAction struct {
	ChatID   string
	ThreadID int
	Action   string
}

// Reaction is a setMessageReaction call; Emoji is "" when the reaction
// was cleared.
type Reaction struct {
	ChatID    string
	MessageID int
	Emoji     string
}

// File is a file the fake serves through getFile and /file/bot<token>/.
type File struct {
	ID   string
	Path string // file_path
	Data []byte
	// ReportedSize is the file_size getFile reports: 0 means len(Data),
	// negative means none.
	ReportedSize int64
}

type failure struct {
	code       int
	desc       string
	retryAfter int
	skip       int // calls to let through first
}

// Server is a fake Bot API.
type Server struct {
	t     testing.TB
	token string
	bot   models.User
	srv   *httptest.Server
	done  chan struct{}
	once  sync.Once

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	updates   []json.RawMessage
	updateIDs []int64
	retain    bool
	offsets   []int64
	calls     map[string]int
	badToken  int
	sent      []SentMessage
	actions   []ChatAction
	reactions []Reaction
	files     map[string]File
	downloads int
	webhook   map[string]string
	fail      map[string][]failure
	nextMsgID int
	nextUpdID int64
}

// New starts a fake Bot API for the bot token token (its numeric prefix is
// the bot's user id) and stops it when the test ends.
func New(t testing.TB, token string) *Server {
	id, _ := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	if id == 0 {
		id = 1
	}
	s := &Server{t: t, token: token, done: make(chan struct{}), changed: make(chan struct{}),
		bot:   models.User{ID: id, IsBot: true, FirstName: "Pincer Test", Username: "pincer_test_bot", CanJoinGroups: true},
		calls: map[string]int{}, files: map[string]File{}, fail: map[string][]failure{},
		nextMsgID: 1000, nextUpdID: 100}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the API root (without /bot<token>).
func (s *Server) URL() string { return s.srv.URL }

// Client is an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Token is the bot token the server accepts.
func (s *Server) Token() string { return s.token }

// Bot is the bot's user, as getMe answers it.
func (s *Server) Bot() models.User { return s.bot }

// Close stops the server: open long polls end and later requests fail
// with a connection error. It is safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// notify wakes waiters; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// AddUpdate queues an incoming update and returns its update_id (assigned
// when u.ID is 0).
func (s *Server) AddUpdate(u models.Update) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		u.ID = s.nextUpdID
	}
	s.nextUpdID = max(s.nextUpdID, u.ID) + 1
	raw, err := json.Marshal(u)
	if err != nil {
		s.t.Errorf("telegramtest: encode update: %v", err)
		return 0
	}
	s.updates = append(s.updates, raw)
	s.updateIDs = append(s.updateIDs, u.ID)
	s.notify()
	return u.ID
}

// UserText queues a text message from a user and returns its update_id:
// a DM when chatID is positive, else a message in the supergroup chatID.
func (s *Server) UserText(chatID, fromUserID int64, username, text string) int64 {
	chat := models.Chat{ID: chatID, Type: models.ChatTypePrivate, FirstName: "User"}
	if chatID < 0 {
		chat = models.Chat{ID: chatID, Type: models.ChatTypeSupergroup, Title: "Group"}
	}
	s.mu.Lock()
	s.nextMsgID++
	id := s.nextMsgID
	s.mu.Unlock()
	return s.AddUpdate(models.Update{Message: &models.Message{
		ID: id, Date: int(time.Now().Unix()), Chat: chat, Text: text,
		From: &models.User{ID: fromUserID, FirstName: "User " + strconv.FormatInt(fromUserID, 10), Username: username},
	}})
}

// RetainConfirmed keeps updates after a getUpdates with a higher offset
// confirmed them (as if Telegram never saw that request), so only the
// client's own saved offset prevents reprocessing.
func (s *Server) RetainConfirmed() {
	s.mu.Lock()
	s.retain = true
	s.mu.Unlock()
}

// AddFile makes a file available to getFile and downloads.
func (s *Server) AddFile(f File) {
	s.mu.Lock()
	s.files[f.ID] = f
	s.mu.Unlock()
}

// FailNext makes the next call of method fail with an error answer
// (code, description, and parameters.retry_after when retryAfter > 0).
// Calls queue: each failure is used once.
func (s *Server) FailNext(method string, code int, desc string, retryAfter int) {
	s.mu.Lock()
	s.fail[method] = append(s.fail[method], failure{code: code, desc: desc, retryAfter: retryAfter})
	s.mu.Unlock()
}

// FailAfter lets n calls of method through, then fails the next one like
// FailNext.
func (s *Server) FailAfter(method string, n, code int, desc string, retryAfter int) {
	s.mu.Lock()
	s.fail[method] = append(s.fail[method], failure{code, desc, retryAfter, n})
	s.mu.Unlock()
}

// Calls counts the requests of method made with the right token.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// TokenUsed reports whether any request carried the server's token.
func (s *Server) TokenUsed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.calls {
		if n > 0 {
			return true
		}
	}
	return s.downloads > 0
}

// BadTokenRequests counts requests (API calls and downloads) made with a
// token other than the server's; they were answered 401.
func (s *Server) BadTokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badToken
}

// Downloads counts file downloads served.
func (s *Server) Downloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downloads
}

// Offsets lists the offsets getUpdates was called with, in order.
func (s *Server) Offsets() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.offsets...)
}

// Webhook returns the parameters of the last setWebhook (nil when no
// webhook is set).
func (s *Server) Webhook() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhook == nil {
		return nil
	}
	out := make(map[string]string, len(s.webhook))
	for k, v := range s.webhook {
		out[k] = v
	}
	return out
}

// Sent lists the messages sent so far, in order.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

// Actions lists the chat actions sent so far.
func (s *Server) Actions() []ChatAction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ChatAction(nil), s.actions...)
}

// Reactions lists the setMessageReaction calls so far.
func (s *Server) Reactions() []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reaction(nil), s.reactions...)
}

// WaitSent waits until at least n messages were sent and returns them all;
// it fails when ctx ends first (give it a deadline).
func (s *Server) WaitSent(ctx context.Context, n int) ([]SentMessage, error) {
	for {
		s.mu.Lock()
		if len(s.sent) >= n {
			out := append([]SentMessage(nil), s.sent...)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		got := len(s.sent)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Sent(), errors.New("telegramtest: waiting for " + strconv.Itoa(n) + " sent messages, got " +
				strconv.Itoa(got) + ": " + ctx.Err().Error())
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

func apiError(w http.ResponseWriter, f failure) {
	body := map[string]any{"ok": false, "error_code": f.code, "description": f.desc}
	if f.retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": f.retryAfter}
	}
	writeJSON(w, f.code, body)
}

type upload struct {
	name string
	data []byte
}

// params reads a request's parameters: multipart (the go-telegram
// library), JSON or a form; uploads come back separately.
func params(r *http.Request) (map[string]string, map[string]upload, error) {
	out, files := map[string]string{}, map[string]upload{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") {
				return out, files, nil // a request without parameters
			}
			return nil, nil, err
		}
		for k, v := range r.MultipartForm.Value {
			out[k] = v[0]
		}
		for k, fhs := range r.MultipartForm.File {
			rd, err := fhs[0].Open()
			if err != nil {
				return nil, nil, err
			}
			data, err := io.ReadAll(rd)
			rd.Close()
			if err != nil {
				return nil, nil, err
			}
			files[k] = upload{fhs[0].Filename, data}
		}
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
		for k, v := range m {
			if str, isStr := v.(string); isStr {
				out[k] = str
			} else {
				b, _ := json.Marshal(v)
				out[k] = string(b)
			}
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, nil, err
		}
		for k, v := range r.Form {
			out[k] = v[0]
		}
	}
	return out, files, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if rest, isFile := strings.CutPrefix(r.URL.Path, "/file/bot"); isFile {
		s.serveFile(w, rest)
		return
	}
	rest, isBot := strings.CutPrefix(r.URL.Path, "/bot")
	if !isBot {
		apiError(w, failure{code: 404, desc: "Not Found"})
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	if token != s.token {
		s.mu.Lock()
		s.badToken++
		s.mu.Unlock()
		apiError(w, failure{code: 401, desc: "Unauthorized"})
		return
	}
	p, files, err := params(r)
	if err != nil {
		apiError(w, failure{code: 400, desc: "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	s.calls[method]++
	if q := s.fail[method]; len(q) > 0 && q[0].skip > 0 {
		q[0].skip--
	} else if len(q) > 0 {
		s.fail[method] = q[1:]
		s.mu.Unlock()
		apiError(w, q[0])
		return
	}
	s.mu.Unlock()

	switch method {
	case "getMe":
		ok(w, s.bot)
	case "getUpdates":
		s.getUpdates(w, r, p)
	case "deleteWebhook":
		s.mu.Lock()
		s.webhook = nil
		s.mu.Unlock()
		ok(w, true)
	case "setWebhook":
		s.mu.Lock()
		s.webhook = p
		s.mu.Unlock()
		ok(w, true)
	case "sendChatAction":
		a := ChatAction{ChatID: p["chat_id"], Action: p["action"]}
		a.ThreadID, _ = strconv.Atoi(p["message_thread_id"])
		s.mu.Lock()
		s.actions = append(s.actions, a)
		s.notify()
		s.mu.Unlock()
		ok(w, true)
	case "setMessageReaction":
		s.setReaction(w, p)
	case "sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo":
		s.send(w, method, p, files)
	case "getFile":
		s.mu.Lock()
		f, found := s.files[p["file_id"]]
		s.mu.Unlock()
		if !found {
			apiError(w, failure{code: 400, desc: "Bad Request: invalid file_id"})
			return
		}
		res := map[string]any{"file_id": f.ID, "file_unique_id": "u-" + f.ID, "file_path": f.Path}
		switch {
		case f.ReportedSize > 0:
			res["file_size"] = f.ReportedSize
		case f.ReportedSize == 0:
			res["file_size"] = len(f.Data)
		}
		ok(w, res)
	default:
		apiError(w, failure{code: 404, desc: "Not Found: method " + method + " is not faked"})
	}
}

func (s *Server) send(w http.ResponseWriter, method string, p map[string]string, files map[string]upload) {
	if p["chat_id"] == "" {
		apiError(w, failure{code: 400, desc: "Bad Request: chat_id is empty"})
		return
	}
	m := SentMessage{Method: method, ChatID: p["chat_id"], Text: p["text"], ParseMode: p["parse_mode"],
		Silent: p["disable_notification"] == "true"}
	if method != "sendMessage" {
		m.Text = p["caption"]
	} else if m.Text == "" {
		apiError(w, failure{code: 400, desc: "Bad Request: message text is empty"})
		return
	}
	m.ThreadID, _ = strconv.Atoi(p["message_thread_id"])
	if rp := p["reply_parameters"]; rp != "" {
		var v struct {
			MessageID int `json:"message_id"`
		}
		if err := json.Unmarshal([]byte(rp), &v); err != nil {
			apiError(w, failure{code: 400, desc: "Bad Request: bad reply_parameters"})
			return
		}
		m.ReplyTo = v.MessageID
	}
	if lp := p["link_preview_options"]; lp != "" {
		var v struct {
			IsDisabled bool `json:"is_disabled"`
		}
		_ = json.Unmarshal([]byte(lp), &v)
		m.NoLinkPreview = v.IsDisabled
	}
	if field := mediaField(method); field != "" {
		if f, isUpload := files[field]; isUpload {
			m.FileName, m.FileData = f.name, f.data
		} else if m.MediaRef = p[field]; m.MediaRef == "" {
			apiError(w, failure{code: 400, desc: "Bad Request: there is no " + field + " in the request"})
			return
		}
	}
	s.mu.Lock()
	s.nextMsgID++
	m.MessageID = s.nextMsgID
	s.sent = append(s.sent, m)
	s.notify()
	s.mu.Unlock()
	chatID, _ := strconv.ParseInt(m.ChatID, 10, 64)
	chatType := models.ChatTypePrivate
	if chatID < 0 {
		chatType = models.ChatTypeSupergroup
	}
	ok(w, map[string]any{"message_id": m.MessageID, "date": time.Now().Unix(),
		"chat": map[string]any{"id": chatID, "type": chatType}, "from": s.bot})
}

func mediaField(method string) string {
	switch method {
	case "sendPhoto":
		return "photo"
	case "sendDocument":
		return "document"
	case "sendVoice":
		return "voice"
	case "sendAudio":
		return "audio"
	case "sendVideo":
		return "video"
	}
	return ""
}

func (s *Server) setReaction(w http.ResponseWriter, p map[string]string) {
	r := Reaction{ChatID: p["chat_id"]}
	r.MessageID, _ = strconv.Atoi(p["message_id"])
	if r.ChatID == "" || r.MessageID == 0 {
		apiError(w, failure{code: 400, desc: "Bad Request: chat_id and message_id are required"})
		return
	}
	if raw := p["reaction"]; raw != "" {
		var rs []struct {
			Type  string `json:"type"`
			Emoji string `json:"emoji"`
		}
		if err := json.Unmarshal([]byte(raw), &rs); err != nil {
			apiError(w, failure{code: 400, desc: "Bad Request: can't parse reaction types"})
			return
		}
		if len(rs) > 0 {
			if rs[0].Type != "emoji" {
				apiError(w, failure{code: 400, desc: "Bad Request: unsupported reaction type"})
				return
			}
			r.Emoji = rs[0].Emoji
		}
	}
	s.mu.Lock()
	s.reactions = append(s.reactions, r)
	s.notify()
	s.mu.Unlock()
	ok(w, true)
}

// getUpdates answers the updates with update_id >= offset, waiting up to
// the requested timeout (at most MaxPoll) when there are none. Updates
// below a positive offset are confirmed and dropped, as Telegram does.
// While a webhook is set it answers 409, as Telegram does.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	timeout, _ := strconv.Atoi(p["timeout"])
	wait := min(time.Duration(max(timeout, 0))*time.Second, MaxPoll)
	s.mu.Lock()
	s.offsets = append(s.offsets, offset)
	hook := s.webhook != nil
	s.mu.Unlock()
	if hook {
		apiError(w, failure{code: 409, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"})
		return
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for !s.retain && offset > 0 && len(s.updateIDs) > 0 && s.updateIDs[0] < offset {
			s.updateIDs, s.updates = s.updateIDs[1:], s.updates[1:]
		}
		var out []json.RawMessage
		for i, id := range s.updateIDs {
			if id >= offset {
				out = append(out, s.updates[i])
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if len(out) > 0 {
			ok(w, out)
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			ok(w, []any{})
			return
		case <-s.done:
			ok(w, []any{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) serveFile(w http.ResponseWriter, rest string) {
	token, path, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != s.token {
		s.badToken++
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	for _, f := range s.files {
		if f.Path == path {
			s.downloads++
			_, _ = w.Write(f.Data)
			return
		}
	}
	http.NotFound(w, nil)
}
