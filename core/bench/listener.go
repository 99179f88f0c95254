package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// listener is a fan-out listener on a plain socket. It does its own
// upgrade, connect and frame reading instead of going through
// coder/websocket: during a trial the listeners only compete with the
// gateway for the same cores, so each one spends as little CPU per event
// as it can. Per message it makes one read(2) into a 4 KiB buffer (more
// only for larger messages), checks the 2–10 byte frame header, and hands
// the payload over without copying it.
type listener struct {
	nc  net.Conn
	br  *bufio.Reader
	hdr [8]byte
	msg []byte // reused message buffer (continuation frames only)
}

const maxListenerMsg = 64 << 20

var errServerClosed = errors.New("server sent close")

// dialListener connects like dial, on a raw socket.
func (d *dialer) dialListener(ctx context.Context, frame []byte) (*listener, error) {
	u, err := url.Parse(d.url)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"ws": "80", "wss": "443"}[u.Scheme])
	}
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "wss" {
		tc := tls.Client(nc, &tls.Config{ServerName: u.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	l := &listener{nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	if err := l.handshake(ctx, u, frame); err != nil {
		nc.Close()
		return nil, err
	}
	return l, nil
}

func (l *listener) handshake(ctx context.Context, u *url.URL, frame []byte) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = l.nc.SetDeadline(dl)
		defer l.nc.SetDeadline(time.Time{})
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	path := u.RequestURI()
	if _, err := fmt.Fprintf(l.nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, u.Host, key); err != nil {
		return err
	}
	resp, err := http.ReadResponse(l.br, nil)
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return fmt.Errorf("upgrade: HTTP %d", resp.StatusCode)
	}
	msg, err := l.next()
	if err != nil {
		return fmt.Errorf("waiting for connect.challenge: %w", err)
	}
	if !bytes.Contains(msg, challengeName) {
		return &handshakeError{fmt.Sprintf("first frame is not connect.challenge: %.200s", msg)}
	}
	if err := l.write(opText, frame); err != nil {
		return fmt.Errorf("sending connect: %w", err)
	}
	for i := 0; i < 64; i++ {
		msg, err := l.next()
		if err != nil {
			return fmt.Errorf("waiting for hello-ok: %w", err)
		}
		id, ok, isRes := classify(msg)
		if !isRes || string(id) != connectID {
			continue
		}
		if !ok || !bytes.Contains(msg, helloOK) {
			return &handshakeError{fmt.Sprintf("connect refused: %.300s", msg)}
		}
		return nil
	}
	return &handshakeError{"no hello-ok within 64 frames"}
}

const (
	opCont  = 0x0
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// next returns the next data message; the slice is valid until the next
// call. Pings are answered; a close frame is answered and ends the
// connection.
func (l *listener) next() ([]byte, error) {
	l.msg = l.msg[:0]
	for {
		if _, err := io.ReadFull(l.br, l.hdr[:2]); err != nil {
			return nil, err
		}
		fin, op := l.hdr[0]&0x80 != 0, l.hdr[0]&0x0f
		if l.hdr[1]&0x80 != 0 || l.hdr[0]&0x70 != 0 {
			return nil, errors.New("masked or reserved-bit server frame")
		}
		n := int64(l.hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(l.br, l.hdr[:2]); err != nil {
				return nil, err
			}
			n = int64(binary.BigEndian.Uint16(l.hdr[:2]))
		case 127:
			if _, err := io.ReadFull(l.br, l.hdr[:8]); err != nil {
				return nil, err
			}
			n = int64(binary.BigEndian.Uint64(l.hdr[:8]))
		}
		if n < 0 || n+int64(len(l.msg)) > maxListenerMsg {
			return nil, errors.New("message too large")
		}
		var p []byte
		if op < opClose && fin && len(l.msg) == 0 && int(n) <= l.br.Size() {
			// The common case: a whole message that fits the read buffer
			// is returned in place.
			b, err := l.br.Peek(int(n))
			if err != nil {
				return nil, err
			}
			_, _ = l.br.Discard(int(n))
			return b, nil
		}
		start := len(l.msg)
		l.msg = append(l.msg, make([]byte, n)...)
		if _, err := io.ReadFull(l.br, l.msg[start:]); err != nil {
			return nil, err
		}
		p = l.msg[start:]
		switch op {
		case opPing:
			l.msg = l.msg[:start]
			if err := l.write(opPong, p); err != nil {
				return nil, err
			}
			continue
		case opPong:
			l.msg = l.msg[:start]
			continue
		case opClose:
			code := p[:min(2, len(p))]
			_ = l.write(opClose, code)
			return nil, errServerClosed
		}
		if fin {
			return l.msg, nil
		}
	}
}

// write sends one masked frame (RFC 6455 5.3: client frames are masked).
func (l *listener) write(op byte, p []byte) error {
	_, err := l.nc.Write(appendClientFrame(make([]byte, 0, 14+len(p)), op, p))
	return err
}

func (l *listener) close() { _ = l.nc.Close() }

var seqField = []byte(`,"seq":`)

// eventSeq returns a broadcast event's seq (the last "seq" field: it
// follows the payload), or 0 for a frame without one.
func eventSeq(msg []byte) int64 {
	i := bytes.LastIndex(msg, seqField)
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range msg[i+len(seqField):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
