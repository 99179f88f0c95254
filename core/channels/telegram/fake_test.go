package telegram

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is a Bot API server for tests: getMe, getUpdates (long polling
// with offsets), sendMessage, sendChatAction, sendPhoto, sendDocument,
// getFile + file downloads, setWebhook, deleteWebhook, and scripted errors.
type fakeAPI struct {
	t      *testing.T
	token  string
	botID  int64
	botUsr string
	srv    *httptest.Server

	mu        sync.Mutex
	updates   []json.RawMessage // kept until confirmed by a higher offset
	updateIDs []int64
	wake      chan struct{} // closed when updates are added
	offsets   []int64       // offsets getUpdates was called with
	calls     map[string]int
	sent      []sentMsg
	actions   []sentMsg
	files     map[string]fakeFile // by file_id
	downloads int
	webhook   map[string]string
	errs      map[string][]string // method → scripted JSON error answers
	nextMsgID int
	nextUpdID int64
	// keep: confirmed updates are not dropped (as if Telegram never saw
	// the confirming request, e.g. a crash), so only the client's own
	// offset prevents reprocessing.
	keep bool
}

type fakeFile struct {
	path string
	data []byte
	size int64 // reported file_size (0 → len(data); negative → not reported)
}

// sentMsg is a recorded send.
type sentMsg struct {
	Method    string
	ChatID    string
	Text      string // text or caption
	ParseMode string
	ReplyTo   int
	ThreadID  int
	Action    string
	FileName  string
	FileData  []byte
	MediaRef  string // a URL / file_id given instead of an upload
	Silent    bool
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, token: "123456:TEST-token", botID: 123456, botUsr: "pincer_test_bot",
		wake: make(chan struct{}), calls: map[string]int{}, files: map[string]fakeFile{},
		errs: map[string][]string{}, nextMsgID: 1000, nextUpdID: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) url() string { return f.srv.URL }

// push queues updates (each a JSON object without update_id); it returns
// their ids.
func (f *fakeAPI) push(objs ...map[string]any) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int64
	for _, o := range objs {
		id := f.nextUpdID
		f.nextUpdID++
		o["update_id"] = id
		raw, err := json.Marshal(o)
		if err != nil {
			f.t.Fatal(err)
		}
		f.updates = append(f.updates, raw)
		f.updateIDs = append(f.updateIDs, id)
		ids = append(ids, id)
	}
	close(f.wake)
	f.wake = make(chan struct{})
	return ids
}

func (f *fakeAPI) failNext(method string, errJSON string) {
	f.mu.Lock()
	f.errs[method] = append(f.errs[method], errJSON)
	f.mu.Unlock()
}

func (f *fakeAPI) addFile(id, path string, data []byte, size int64) {
	f.mu.Lock()
	if size == 0 {
		size = int64(len(data))
	}
	f.files[id] = fakeFile{path: path, data: data, size: size}
	f.mu.Unlock()
}

func (f *fakeAPI) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fakeAPI) sentMessages() []sentMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMsg(nil), f.sent...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, result any) {
	writeJSON(w, map[string]any{"ok": true, "result": result})
}

func apiErr(w http.ResponseWriter, code int, desc string) {
	w.WriteHeader(code)
	writeJSON(w, map[string]any{"ok": false, "error_code": code, "description": desc})
}

// params reads a request's parameters: multipart (the library), JSON
// (getUpdates) or a form. Uploaded files come back in files.
func params(r *http.Request) (map[string]string, map[string][2]string, error) {
	out, files := map[string]string{}, map[string][2]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			if err == http.ErrNotMultipart || strings.Contains(err.Error(), "EOF") {
				return out, files, nil // no parameters at all
			}
			return nil, nil, err
		}
		for k, v := range r.MultipartForm.Value {
			out[k] = v[0]
		}
		for k, fhs := range r.MultipartForm.File {
			fh := fhs[0]
			rd, err := fh.Open()
			if err != nil {
				return nil, nil, err
			}
			data, _ := io.ReadAll(rd)
			rd.Close()
			files[k] = [2]string{fh.Filename, string(data)}
		}
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, nil, err
		}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				out[k] = v
			default:
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

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if rest, okf := strings.CutPrefix(r.URL.Path, "/file/bot"); okf {
		f.serveFile(w, rest)
		return
	}
	rest, okb := strings.CutPrefix(r.URL.Path, "/bot")
	if !okb {
		apiErr(w, 404, "Not Found")
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	if token != f.token {
		apiErr(w, 401, "Unauthorized")
		return
	}
	p, files, err := params(r)
	if err != nil {
		apiErr(w, 400, "Bad Request: "+err.Error())
		return
	}
	f.mu.Lock()
	f.calls[method]++
	if q := f.errs[method]; len(q) > 0 {
		f.errs[method] = q[1:]
		f.mu.Unlock()
		var m map[string]any
		_ = json.Unmarshal([]byte(q[0]), &m)
		w.Header().Set("Content-Type", "application/json")
		if c, okc := m["error_code"].(float64); okc {
			w.WriteHeader(int(c))
		}
		_, _ = io.WriteString(w, q[0])
		return
	}
	f.mu.Unlock()

	switch method {
	case "getMe":
		ok(w, map[string]any{"id": f.botID, "is_bot": true, "first_name": "Pincer", "username": f.botUsr})
	case "getUpdates":
		f.getUpdates(w, r, p)
	case "deleteWebhook":
		ok(w, true)
	case "setWebhook":
		f.mu.Lock()
		f.webhook = p
		f.mu.Unlock()
		ok(w, true)
	case "sendChatAction":
		f.mu.Lock()
		f.actions = append(f.actions, f.record(method, p, files))
		f.mu.Unlock()
		ok(w, true)
	case "sendMessage", "sendPhoto", "sendDocument":
		f.mu.Lock()
		m := f.record(method, p, files)
		f.nextMsgID++
		id := f.nextMsgID
		f.sent = append(f.sent, m)
		f.mu.Unlock()
		chatID, _ := strconv.ParseInt(m.ChatID, 10, 64)
		ok(w, map[string]any{"message_id": id, "date": 1700000000, "chat": map[string]any{"id": chatID, "type": "private"}})
	case "getFile":
		f.mu.Lock()
		ff, found := f.files[p["file_id"]]
		f.mu.Unlock()
		if !found {
			apiErr(w, 400, "Bad Request: invalid file_id")
			return
		}
		res := map[string]any{"file_id": p["file_id"], "file_unique_id": "u" + p["file_id"], "file_path": ff.path}
		if ff.size >= 0 {
			res["file_size"] = ff.size
		}
		ok(w, res)
	default:
		apiErr(w, 404, "Not Found: method "+method)
	}
}

func (f *fakeAPI) record(method string, p map[string]string, files map[string][2]string) sentMsg {
	m := sentMsg{Method: method, ChatID: p["chat_id"], Text: p["text"], ParseMode: p["parse_mode"], Action: p["action"],
		Silent: p["disable_notification"] == "true"}
	if m.Text == "" {
		m.Text = p["caption"]
	}
	m.ThreadID, _ = strconv.Atoi(p["message_thread_id"])
	if rp := p["reply_parameters"]; rp != "" {
		var v struct {
			MessageID int `json:"message_id"`
		}
		if err := json.Unmarshal([]byte(rp), &v); err != nil {
			f.t.Errorf("reply_parameters %q: %v", rp, err)
		}
		m.ReplyTo = v.MessageID
	}
	for _, field := range []string{"photo", "document"} {
		if fl, okf := files[field]; okf {
			m.FileName, m.FileData = fl[0], []byte(fl[1])
		} else if v := p[field]; v != "" {
			m.MediaRef = v
		}
	}
	return m
}

// getUpdates answers the updates with update_id >= offset, waiting up to
// timeout seconds (or until the client gives up) when there are none.
// Updates below the offset are confirmed and dropped, as Telegram does.
func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	timeout, _ := strconv.Atoi(p["timeout"])
	f.mu.Lock()
	f.offsets = append(f.offsets, offset)
	f.mu.Unlock()
	deadline := time.After(time.Duration(timeout) * time.Second)
	for {
		f.mu.Lock()
		// confirm (drop) everything below the offset
		for !f.keep && len(f.updateIDs) > 0 && offset > 0 && f.updateIDs[0] < offset {
			f.updateIDs, f.updates = f.updateIDs[1:], f.updates[1:]
		}
		var out []json.RawMessage
		for i, id := range f.updateIDs {
			if id >= offset {
				out = append(out, f.updates[i])
			}
		}
		wake := f.wake
		f.mu.Unlock()
		if len(out) > 0 {
			ok(w, out)
			return
		}
		select {
		case <-wake:
		case <-deadline:
			ok(w, []any{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (f *fakeAPI) serveFile(w http.ResponseWriter, rest string) {
	token, path, _ := strings.Cut(rest, "/")
	if token != f.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ff := range f.files {
		if ff.path == path {
			f.downloads++
			_, _ = w.Write(ff.data)
			return
		}
	}
	http.NotFound(w, nil)
}

// Update builders.

func user(id int64, username string) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "User" + fmt.Sprint(id), "username": username}
}

func privateChat(id int64) map[string]any {
	return map[string]any{"id": id, "type": "private", "first_name": "User"}
}

func groupChat(id int64, typ string, forum bool) map[string]any {
	c := map[string]any{"id": id, "type": typ, "title": "Group"}
	if forum {
		c["is_forum"] = true
	}
	return c
}

func message(id int, chat, from map[string]any, text string) map[string]any {
	m := map[string]any{"message_id": id, "date": 1700000000, "chat": chat, "text": text}
	if from != nil {
		m["from"] = from
	}
	return m
}
