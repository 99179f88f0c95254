package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Scopes the bench asks for.
const (
	scopeRead  = "operator.read"
	scopeAdmin = "operator.admin"
)

// The ids of the connect request; everything after uses small integers.
const connectID = "1:bench"

var (
	preRes        = []byte(`{"type":"res","id":"`)
	preEvent      = []byte(`{"type":"event"`)
	okTrue        = []byte(`","ok":true`)
	helloOK       = []byte(`"type":"hello-ok"`)
	challengeName = []byte(`"event":"connect.challenge"`)
	presenceName  = []byte(`"event":"presence"`)
)

// dialer opens protocol connections to one gateway.
type dialer struct {
	url   string
	token string
	hc    *http.Client
	// connect frames by scope set, built once.
	mu     sync.Mutex
	frames map[string][]byte
}

func newDialer(url, token string) *dialer {
	tr := &http.Transport{
		Proxy:              nil, // loopback only; never a proxy
		DialContext:        (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	return &dialer{url: url, token: token, hc: &http.Client{Transport: tr}, frames: map[string][]byte{}}
}

func (d *dialer) connectFrame(scopes ...string) []byte {
	key := fmt.Sprint(scopes)
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.frames[key]; ok {
		return f
	}
	type client struct {
		ID       string `json:"id"`
		Version  string `json:"version"`
		Platform string `json:"platform"`
		Mode     string `json:"mode"`
	}
	type params struct {
		MinProtocol int               `json:"minProtocol"`
		MaxProtocol int               `json:"maxProtocol"`
		Client      client            `json:"client"`
		Role        string            `json:"role"`
		Scopes      []string          `json:"scopes"`
		Auth        map[string]string `json:"auth"`
	}
	f, _ := json.Marshal(struct {
		Type   string `json:"type"`
		ID     string `json:"id"`
		Method string `json:"method"`
		Params params `json:"params"`
	}{"req", connectID, "connect", params{
		MinProtocol: 4, MaxProtocol: 4,
		Client: client{ID: "cli", Version: "2026.9.6", Platform: runtime.GOOS, Mode: "cli"},
		Role:   "operator", Scopes: scopes, Auth: map[string]string{"token": d.token},
	}})
	d.frames[key] = f
	return f
}

// conn is one handshaken protocol connection.
type conn struct {
	ws  *websocket.Conn
	buf bytes.Buffer
	// hello is the raw hello-ok res (kept only when asked for).
	hello []byte
}

// handshakeError is a connect that the gateway answered with ok:false, or
// a protocol violation; it is not retried.
type handshakeError struct{ msg string }

func (e *handshakeError) Error() string { return e.msg }

// dial upgrades, waits for connect.challenge, sends connect and waits for
// hello-ok. ctx bounds the whole exchange. frame comes from connectFrame.
func (d *dialer) dial(ctx context.Context, frame []byte, keepHello bool) (*conn, error) {
	ws, resp, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{
		HTTPClient:      d.hc,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("upgrade: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	ws.SetReadLimit(64 << 20)
	c := &conn{ws: ws}
	msg, err := c.read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("waiting for connect.challenge: %w", err)
	}
	if !bytes.Contains(msg, challengeName) {
		ws.CloseNow()
		return nil, &handshakeError{fmt.Sprintf("first frame is not connect.challenge: %.200s", msg)}
	}
	if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("sending connect: %w", err)
	}
	for i := 0; i < 64; i++ {
		msg, err := c.read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, fmt.Errorf("waiting for hello-ok: %w", err)
		}
		id, ok, isRes := classify(msg)
		if !isRes {
			continue
		}
		if string(id) != connectID {
			continue
		}
		if !ok || !bytes.Contains(msg, helloOK) {
			ws.CloseNow()
			return nil, &handshakeError{fmt.Sprintf("connect refused: %.300s", msg)}
		}
		if keepHello {
			c.hello = append([]byte(nil), msg...)
		}
		return c, nil
	}
	ws.CloseNow()
	return nil, &handshakeError{"no hello-ok within 64 frames"}
}

// read returns the next data message in the connection's reusable buffer
// (valid until the next read).
func (c *conn) read(ctx context.Context) ([]byte, error) {
	_, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, err
	}
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return c.buf.Bytes(), nil
}

func (c *conn) close() { _ = c.ws.CloseNow() }

// classify tells a res frame (its id and ok) from anything else, decoding
// as little as possible: the gateway writes res frames as
// {"type":"res","id":…,"ok":…}; other layouts fall back to encoding/json.
func classify(msg []byte) (id []byte, ok bool, isRes bool) {
	if bytes.HasPrefix(msg, preEvent) {
		return nil, false, false
	}
	if bytes.HasPrefix(msg, preRes) {
		rest := msg[len(preRes):]
		if i := bytes.IndexByte(rest, '"'); i >= 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			id = rest[:i]
			return id, bytes.HasPrefix(rest[i:], okTrue), true
		}
	}
	var f struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		OK   bool   `json:"ok"`
	}
	if json.Unmarshal(msg, &f) != nil || f.Type != "res" {
		return nil, false, false
	}
	return []byte(f.ID), f.OK, true
}

// appendReq appends a request frame with an integer id.
func appendReq(b []byte, id uint64, method string, params []byte) []byte {
	b = append(b, `{"type":"req","id":"`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","method":"`...)
	b = append(b, method...)
	b = append(b, '"')
	if params != nil {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

// call sends one request and waits for its res, skipping events. It
// returns the payload of a successful res, or an error with the res.
func (c *conn) call(ctx context.Context, id uint64, method string, params []byte) (json.RawMessage, error) {
	if err := c.ws.Write(ctx, websocket.MessageText, appendReq(nil, id, method, params)); err != nil {
		return nil, err
	}
	want := strconv.FormatUint(id, 10)
	for i := 0; i < 100000; i++ {
		msg, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		rid, ok, isRes := classify(msg)
		if !isRes || string(rid) != want {
			continue
		}
		if !ok {
			return nil, fmt.Errorf("%s failed: %.300s", method, msg)
		}
		var f struct {
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(msg, &f); err != nil {
			return nil, err
		}
		return f.Payload, nil
	}
	return nil, errors.New("no response")
}

// drain reads and discards messages until the connection fails; it keeps
// pings answered on held connections.
func drain(ws *websocket.Conn) {
	for {
		_, r, err := ws.Reader(context.Background())
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}
