package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/pincerhq/pincer/core/protocol"
)

// Handshake states.
const (
	hsNone = iota
	hsInFlight
	hsDone
	hsFailed
)

const (
	maxInflightPerConn = 256
	maxRoleErrors      = 10
)

// Conn is one WebSocket connection.
type Conn struct {
	s        *Server
	ws       *websocket.Conn
	id       string
	nonce    string
	clientIP string // attributed client address (forwarded when proxied)
	local    bool   // direct loopback socket without proxy evidence
	origin   string
	host     string   // the Host the client connected to
	scopeCap []string // X-OpenClaw-Scopes
	opened   time.Time

	authed   atomic.Bool
	admitted atomic.Bool // the OnAdmit hooks ran
	// Set once at hello; read-only afterwards.
	params     *protocol.ConnectParams
	role       string
	scopes     []string
	caps       map[string]bool
	authMethod string
	deviceID   string
	credential string
	grant      *DeviceGrant // until hello-ok is built

	// The raw socket under ws. Data frames are framed here and written to
	// it directly (see the writing section); coder/websocket's own writes
	// (pong, ping, close) reach it through ctlWriter, in the same order.
	nc net.Conn
	rc syscall.RawConn // nil when the socket offers no raw access

	mu        sync.Mutex
	hs        int
	pending   [][]byte
	seq       int64
	queue     []outFrame
	queued    int64
	writing   bool // one goroutine owns the socket's write side
	wdead     bool // a socket write failed; nothing more is written
	closing   bool // no more frames accepted
	closeCode websocket.StatusCode
	closeText string
	closeSet  bool
	roleErrs  int
	inflight  int
	presenceK string
	// presenceGone: the connection left (set under the presence lock, so a
	// handshake finishing late does not list it).
	presenceGone bool
	// life orders admission and hello hooks against the disconnect hooks;
	// dropped is set (under it) once the connection is gone.
	life    sync.Mutex
	dropped bool
	values  map[string]any
	pingT   *time.Timer
	hsTimer *time.Timer
	ctx     context.Context
	cancel  context.CancelFunc

	releasePreauth func() // the socket leaves the unauthenticated budget

	closedCh chan struct{}
}

// ID is the connection id (hello-ok server.connId).
func (c *Conn) ID() string { return c.id }

// Authenticated reports whether the handshake completed.
func (c *Conn) Authenticated() bool { return c.authed.Load() }

// Role is "operator" or "node" once authenticated.
func (c *Conn) Role() string { return c.role }

// Scopes are the granted operator scopes.
func (c *Conn) Scopes() []string { return c.scopes }

// HasScope applies the implication rules to the granted scopes.
func (c *Conn) HasScope(scope string) bool {
	return c.role == protocol.RoleOperator && protocol.ScopeSatisfied(c.scopes, scope)
}

// HasCap reports whether the client declared a capability in connect.
func (c *Conn) HasCap(cap string) bool { return c.caps[cap] }

// Params are the connect params the client sent.
func (c *Conn) Params() *protocol.ConnectParams { return c.params }

// ClientIP is the attributed client address.
func (c *Conn) ClientIP() string { return c.clientIP }

// IsLocal reports a direct loopback connection.
func (c *Conn) IsLocal() bool { return c.local }

// Host is the HTTP Host the client connected to (for URLs handed back to it).
func (c *Conn) Host() string { return c.host }

// Context is cancelled when the connection closes. It is created on first
// use: most idle connections never need one.
func (c *Conn) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithCancel(context.Background())
		select {
		case <-c.closedCh:
			c.cancel()
		default:
		}
	}
	return c.ctx
}

func (c *Conn) cancelContext() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.closedCh }

// Set stores a per-connection value for a domain package (subscriptions…).
func (c *Conn) Set(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.values == nil {
		c.values = map[string]any{}
	}
	c.values[key] = v
}

// Get returns a value stored with Set.
func (c *Conn) Get(key string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.values[key]
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "gateway shutting down", http.StatusServiceUnavailable)
		return
	}
	attr := s.attribute(r)
	if attr.rejectProxy {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"message":"Proxy client attribution is required. Configure gateway.trustedProxies with the address of your reverse proxy, or connect directly.","type":"proxy_attribution_required"}}`))
		return
	}
	if !s.acquirePreauth(attr.clientIP) {
		http.Error(w, "Too many unauthenticated sockets", http.StatusServiceUnavailable)
		return
	}
	var released, slot sync.Once
	release := func() { slot.Do(func() { s.releasePreauth(attr.clientIP) }) }
	// Until the read goroutine takes over, a failed upgrade frees the slot.
	defer released.Do(release)
	c := &Conn{
		s: s, id: uuid.NewString(), nonce: uuid.NewString(),
		clientIP: attr.clientIP, local: attr.local,
		origin: r.Header.Get("Origin"), host: r.Host, scopeCap: attr.scopeCap,
		opened: time.Now(), closedCh: make(chan struct{}),
		releasePreauth: release,
	}
	ws, err := websocket.Accept(smallBuffers{w, c}, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // origins are checked per client kind at connect
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return
	}
	ws.SetReadLimit(-1) // enforced per frame below, with the reference's close codes
	c.ws = ws
	s.connsMu.Lock()
	s.conns[c] = struct{}{}
	s.connsMu.Unlock()
	s.nconn.Add(1)

	c.sendEvent(protocol.EventConnectChallenge, protocol.ChallengeEvent{Nonce: c.nonce, Ts: nowMs()})
	c.hsTimer = time.AfterFunc(s.opt.HandshakeTimeout, func() {
		if !c.authed.Load() {
			c.closeNow(websocket.StatusNormalClosure, "")
		}
	})
	// The read loop runs on a fresh goroutine so the HTTP handler can return:
	// that releases net/http's deeper stack and request state, which
	// otherwise stay pinned for the life of every idle connection.
	go func() {
		defer release()
		defer s.dropConn(c)
		c.readLoop()
	}()
	released.Do(func() {}) // ownership of the budget slot moved to the goroutine
}

// smallBuffers hijacks with a small bufio reader, so idle connections do
// not each pin net/http's two 4 KiB buffers. It keeps the raw socket for
// the gateway's own writes and hands coder/websocket a writer that feeds
// the connection's write queue (ctlWriter).
type smallBuffers struct {
	http.ResponseWriter
	c *Conn
}

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot hijack")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		r = io.MultiReader(bytes.NewReader(append([]byte(nil), b...)), conn)
	}
	w.c.nc = conn
	if sc, ok := conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.c.rc = rc
		}
	}
	// coder/websocket writes only control frames (at most 139 bytes) now,
	// and flushes after each: one frame per ctlWriter.Write.
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(r, 512), bufio.NewWriterSize(ctlWriter{w.c}, 512)), nil
}

func (s *Server) dropConn(c *Conn) {
	c.mu.Lock()
	c.closing = true
	c.dropQueueLocked(net.ErrClosed)
	if c.pingT != nil {
		c.pingT.Stop()
	}
	if c.hsTimer != nil {
		c.hsTimer.Stop()
		c.hsTimer = nil
	}
	close(c.closedCh)
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	s.connsMu.Lock()
	delete(s.conns, c)
	s.connsMu.Unlock()
	s.nconn.Add(-1)
	c.life.Lock()
	c.dropped = true
	if c.authed.Load() {
		s.log.Info("client disconnected", "conn", c.id, "client", c.params.Client.ID, "durationMs", time.Since(c.opened).Milliseconds())
		s.presence.disconnected(c)
	}
	if c.authed.Load() || c.admitted.Load() {
		for _, f := range s.disconnectHooks() {
			f(c)
		}
	}
	c.life.Unlock()
	_ = c.ws.CloseNow()
}

func (c *Conn) readLoop() {
	for {
		// A Background context costs coder/websocket no per-read
		// registration; closing the socket is what unblocks this read.
		_, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return
		}
		limit := int64(protocol.MaxPreAuthFrameBytes)
		if c.authed.Load() {
			limit = c.s.opt.MaxPayload
		}
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return
		}
		if int64(len(data)) > limit {
			c.mu.Lock()
			c.closing = true
			c.dropQueueLocked(net.ErrClosed)
			c.mu.Unlock()
			c.closeWS(websocket.StatusMessageTooBig, "")
			return
		}
		c.onFrame(data)
	}
}

func (c *Conn) onFrame(data []byte) {
	c.mu.Lock()
	switch c.hs {
	case hsDone:
		c.mu.Unlock()
		c.onRequestFrame(data)
		return
	case hsFailed:
		c.mu.Unlock()
		return
	case hsInFlight:
		if len(c.pending) >= protocol.MaxPendingHandshake {
			c.hs = hsFailed
			c.pending = nil
			c.mu.Unlock()
			c.closeNow(websocket.StatusPolicyViolation, "too many pending handshake frames")
			return
		}
		c.pending = append(c.pending, data)
		c.mu.Unlock()
		return
	}
	c.hs = hsInFlight
	c.mu.Unlock()
	go c.handshake(data)
}

// handshakeDone flushes the frames queued behind connect.
func (c *Conn) handshakeDone(ok bool) {
	c.mu.Lock()
	if !ok {
		c.hs = hsFailed
		c.pending = nil
		c.mu.Unlock()
		return
	}
	c.hs = hsDone
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, f := range pending {
		c.onRequestFrame(f)
	}
}

// onRequestFrame handles a frame after hello. Parsing and dispatch run on
// their own goroutine so the long-lived read goroutine stays shallow: its
// stack is most of an idle connection's memory.
func (c *Conn) onRequestFrame(data []byte) {
	if c.s.draining.Load() {
		id := "invalid"
		if req, _ := parseRequest(data); req != nil && req.ID != "" {
			id = req.ID
		}
		c.sendError(id, protocol.Unavailable("gateway is shutting down; retry after it restarts", 1000))
		return
	}
	c.mu.Lock()
	busy := c.inflight >= maxInflightPerConn
	if !busy {
		c.inflight++
	}
	c.mu.Unlock()
	if busy {
		id := "invalid"
		if req, err := parseRequest(data); err == nil || (req != nil && req.ID != "") {
			id = req.ID
		}
		c.sendError(id, protocol.Unavailable("The server is busy. Please try again in a moment.", 1000))
		return
	}
	c.s.inflight.add()
	go func() {
		defer func() {
			c.mu.Lock()
			c.inflight--
			c.mu.Unlock()
			c.s.inflight.done()
		}()
		req, perr := parseRequest(data)
		if perr == errNotJSON {
			c.s.log.Debug("ignoring non-JSON frame", "conn", c.id)
			return
		}
		if perr != nil {
			id := "invalid"
			if req != nil && req.ID != "" {
				id = req.ID
			}
			c.sendError(id, protocol.InvalidRequest("invalid request frame: "+perr.Error()))
			return
		}
		c.s.dispatch(c, req)
	}()
}

// schedulePing arms the keepalive: a ping every PingInterval, and a pong
// expected within the same interval, else the socket is dropped. One timer
// per connection, re-armed after each pong, keeps idle connections cheap.
func (c *Conn) schedulePing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.pingT != nil {
		c.pingT.Reset(c.s.opt.PingInterval)
		return
	}
	c.pingT = time.AfterFunc(c.s.opt.PingInterval, c.ping)
}

func (c *Conn) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opt.PingInterval)
	err := c.ws.Ping(ctx)
	cancel()
	if err != nil {
		select {
		case <-c.closedCh:
		default:
			c.s.log.Debug("closing connection without pong", "conn", c.id)
			c.closeNow(websocket.StatusGoingAway, "ping timeout")
		}
		return
	}
	c.schedulePing()
}

// --- writing ---

// resFrame assembles a res frame around an already-encoded payload, so a
// cached payload (the health snapshot) is not re-scanned per request.
func resFrame(id string, ok bool, payload json.RawMessage, e *protocol.ErrorShape) []byte {
	idJSON, _ := json.Marshal(id)
	var eJSON []byte
	if e != nil {
		eJSON, _ = json.Marshal(e)
	}
	b := make([]byte, 0, len(idJSON)+len(payload)+len(eJSON)+48)
	b = append(b, `{"type":"res","id":`...)
	b = append(b, idJSON...)
	if ok {
		b = append(b, `,"ok":true`...)
	} else {
		b = append(b, `,"ok":false`...)
	}
	if len(payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	if eJSON != nil {
		b = append(b, `,"error":`...)
		b = append(b, eJSON...)
	}
	return append(b, '}')
}

func (c *Conn) sendResult(id string, payload any) {
	var raw json.RawMessage
	switch p := payload.(type) {
	case nil:
		raw = json.RawMessage("null")
	case json.RawMessage:
		raw = p // produced by our own encoder
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			c.sendError(id, protocol.Unavailable("result encoding failed: "+err.Error(), 0))
			return
		}
		raw = b
	}
	c.enqueue(resFrame(id, true, raw, nil))
}

func (c *Conn) sendError(id string, e *protocol.Error) {
	c.enqueue(resFrame(id, false, nil, e.Shape()))
}

// sendErrorWithPayload is the res shape of a failed two-phase final:
// ok:false with both payload and error.
func (c *Conn) sendErrorWithPayload(id string, payload any, e *protocol.Error) {
	c.enqueue(resFrame(id, false, mustJSON(payload), e.Shape()))
}

// sendEvent sends a targeted event: no seq.
func (c *Conn) sendEvent(event string, payload any) {
	f := protocol.EventFrame{Type: protocol.FrameEvent, Event: event, Payload: mustJSON(payload)}
	b, _ := json.Marshal(f)
	c.enqueue(b)
}

// SendEvent delivers an event to this connection only (no seq, no guard):
// node.invoke.request and other targeted frames.
func (c *Conn) SendEvent(event string, payload any) { c.sendEvent(event, payload) }

// enqueue queues a targeted frame (a res or a direct event); over
// maxBufferedBytes the connection is closed as a slow consumer.
func (c *Conn) enqueue(payload []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.queued+int64(len(payload)) > c.s.opt.MaxBufferedBytes {
		c.mu.Unlock()
		c.closeNow(websocket.StatusPolicyViolation, "slow consumer")
		return
	}
	c.pushUnlock(outFrame{b: textFrame(payload), pooled: true})
}

// textFrame builds an unfragmented server text frame (RFC 6455 5.2:
// FIN, opcode 1, no mask) in a pooled buffer.
func textFrame(payload []byte) []byte {
	f := getFrameBuf(len(payload) + maxFrameHeader)
	f = appendTextHeader(f, len(payload))
	return append(f, payload...)
}

const maxFrameHeader = 10

func appendTextHeader(b []byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, 0x81, byte(n))
	case n < 1<<16:
		return append(b, 0x81, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0x81, 127), uint64(n))
	}
}

// sendHello queues hello-ok and marks the connection authenticated in one
// step under c.mu, so a concurrent broadcast lands either before the
// connection counts (not delivered) or after hello-ok (delivered), never in
// a gap the client cannot see.
func (c *Conn) sendHello(id string, hello any) {
	frame := textFrame(resFrame(id, true, mustJSON(hello), nil))
	c.mu.Lock()
	c.authed.Store(true)
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.pushUnlock(outFrame{b: frame, pooled: true})
}

// --- the socket's write side ---
//
// Every byte the gateway sends goes through pushUnlock, in order: data
// frames framed here, and coder/websocket's control frames (pong, ping,
// close) through ctlWriter. One goroutine at a time owns the write side
// (c.writing). When the socket is idle, the goroutine that produced the
// frame (a broadcast, a handler) makes one non-blocking write(2) itself:
// no writer goroutine is started or woken. What the socket does not take
// at once (a full send buffer: a slow peer) is queued for writeLoop,
// which blocks on the socket, so a slow peer never stalls the producer.
// The queue is bounded by maxBufferedBytes (slow-consumer close).

// outFrame is one complete WebSocket frame on its way out.
type outFrame struct {
	b      []byte
	off    int        // bytes already written by a partial non-blocking write
	pooled bool       // b goes back to framePool after the write
	done   chan error // ctlWriter waits for its frame
}

func (f *outFrame) finish(err error) {
	if f.done != nil {
		f.done <- err
	}
	if f.pooled && err == nil {
		putFrameBuf(f.b)
	}
	f.b = nil
}

// dropQueueLocked discards the queued frames (closing); waiting control
// writes get err. A frame already started on the socket (the head, after a
// partial non-blocking write) is kept while the socket is alive: dropping
// its remainder would leave the peer inside a truncated frame, reading the
// close frame that follows as payload. writeLoop, which always owns the
// socket while such a frame is queued, finishes it before the close frame.
// Frames writeLoop has taken are in flight and not in the queue; their
// bytes stay counted in queued until it has written them.
func (c *Conn) dropQueueLocked(err error) {
	keep := 0
	if !c.wdead && len(c.queue) > 0 && c.queue[0].off > 0 {
		keep = 1
	}
	for i := keep; i < len(c.queue); i++ {
		f := &c.queue[i]
		c.queued -= int64(len(f.b) - f.off)
		f.finish(err)
	}
	if keep == 0 {
		c.queue = nil
		return
	}
	clear(c.queue[1:])
	c.queue = c.queue[:1]
}

// pushUnlock sends or queues a frame and releases c.mu.
func (c *Conn) pushUnlock(f outFrame) {
	if c.wdead {
		c.mu.Unlock()
		f.finish(net.ErrClosed)
		return
	}
	if c.writing || c.rc == nil {
		c.queue = append(c.queue, f)
		c.queued += int64(len(f.b))
		start := !c.writing
		c.writing = true
		c.mu.Unlock()
		if start {
			go c.writeLoop()
		}
		return
	}
	c.writing = true
	c.mu.Unlock()
	n, err := writeNonblock(c.rc, f.b)
	if err != nil {
		c.writeFailed(err, f)
		return
	}
	c.mu.Lock()
	if n < len(f.b) {
		// The rest goes first, before anything queued meanwhile.
		f.off = n
		c.queue = append(c.queue, outFrame{})
		copy(c.queue[1:], c.queue)
		c.queue[0] = f
		c.queued += int64(len(f.b) - n)
		c.mu.Unlock()
		go c.writeLoop()
		return
	}
	if len(c.queue) > 0 || (c.closeSet && !c.closing) {
		c.mu.Unlock()
		f.finish(nil)
		go c.writeLoop()
		return
	}
	c.writing = false
	c.mu.Unlock()
	f.finish(nil)
}

// writeFailed ends the write side after a socket error and closes.
func (c *Conn) writeFailed(err error, pending ...outFrame) {
	for i := range pending {
		pending[i].finish(err)
	}
	c.mu.Lock()
	c.wdead = true
	c.writing = false
	c.dropQueueLocked(err)
	c.queued = 0 // the failed batch's bytes are gone with the socket
	c.mu.Unlock()
	c.closeNow(websocket.StatusGoingAway, "")
}

// ctlWriter receives coder/websocket's writes: whole control frames, one
// per Write (its bufio writer is flushed after each frame and is larger
// than any control frame). Write returns once the frame is on the socket,
// as a socket write would.
type ctlWriter struct{ c *Conn }

func (w ctlWriter) Write(p []byte) (int, error) {
	done := make(chan error, 1)
	w.c.mu.Lock()
	w.c.pushUnlock(outFrame{b: append([]byte(nil), p...), done: done})
	if err := <-done; err != nil {
		return 0, err
	}
	return len(p), nil
}

// enqueueBroadcast numbers an event frame with this socket's next seq.
// A dropped droppable event still consumes its seq so the client sees the gap.
func (c *Conn) enqueueBroadcast(prefix []byte, suffix []byte, dropIfSlow bool) {
	c.mu.Lock()
	if c.closing || !c.authed.Load() {
		c.mu.Unlock()
		return
	}
	c.seq++
	var seqBuf [20]byte
	seq := strconv.AppendInt(seqBuf[:0], c.seq, 10)
	n := len(prefix) + len(seqKey) + len(seq) + len(suffix)
	if c.queued+int64(n) > c.s.opt.MaxBufferedBytes {
		c.mu.Unlock()
		if !dropIfSlow {
			c.closeNow(websocket.StatusPolicyViolation, "slow consumer")
		}
		return
	}
	frame := getFrameBuf(n + maxFrameHeader)
	frame = appendTextHeader(frame, n)
	frame = append(frame, prefix...)
	frame = append(frame, seqKey...)
	frame = append(frame, seq...)
	frame = append(frame, suffix...)
	c.pushUnlock(outFrame{b: frame, pooled: true})
}

const seqKey = `,"seq":`

// writeLoop owns the write side while frames are queued: it writes them
// in batches (one writev) and blocks on the socket as needed.
func (c *Conn) writeLoop() {
	var bufs net.Buffers
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			if c.closeSet && !c.closing {
				c.closing = true
				code, text := c.closeCode, c.closeText
				c.writing = false
				c.mu.Unlock()
				c.closeWS(code, text)
				return
			}
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		bufs = bufs[:0]
		var n int64
		for _, f := range batch {
			bufs = append(bufs, f.b[f.off:])
			n += int64(len(f.b) - f.off)
		}
		// No deadline: a stuck peer is caught by the slow-consumer cap or
		// the ping timeout, whose close unblocks this write.
		v := bufs
		_, err := v.WriteTo(c.nc)
		clear(bufs)
		if err != nil {
			c.writeFailed(err, batch...)
			return
		}
		c.mu.Lock()
		c.queued -= n
		c.mu.Unlock()
		for i := range batch {
			batch[i].finish(nil)
		}
	}
}

// closeAfterFlush closes once the queued frames (an error res) are written.
func (c *Conn) closeAfterFlush(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closing || c.closeSet {
		c.mu.Unlock()
		return
	}
	c.closeSet = true
	c.closeCode, c.closeText = code, truncateReason(reason)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// closeNow drops queued frames that have not started and closes: the
// close frame follows the remainder of a frame already on the socket.
func (c *Conn) closeNow(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.dropQueueLocked(net.ErrClosed)
	c.mu.Unlock()
	go c.closeWS(code, truncateReason(reason))
}

// Close closes the connection with a code and reason (e.g. 4001 when a
// credential is revoked).
func (c *Conn) Close(code int, reason string) { c.closeAfterFlush(websocket.StatusCode(code), reason) }

func (c *Conn) closeWS(code websocket.StatusCode, reason string) {
	_ = c.ws.Close(code, reason)
	c.cancelContext()
}

// truncateReason keeps a close reason within the 123-byte limit without
// splitting a UTF-8 sequence.
func truncateReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	cut := 123
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}

// Frame buffers are recycled: a broadcast builds one frame per recipient
// (each carries its own seq), which at thousands of listeners would
// otherwise be most of the gateway's garbage. Frames are owned by the
// queue alone, so the writer returns them after the write.
var framePool sync.Pool

const maxPooledFrame = 64 << 10

func getFrameBuf(n int) []byte {
	if n <= maxPooledFrame {
		if p, ok := framePool.Get().(*[]byte); ok && cap(*p) >= n {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, n)
}

func putFrameBuf(b []byte) {
	if cap(b) > maxPooledFrame || cap(b) < 256 {
		return
	}
	b = b[:0]
	framePool.Put(&b)
}
