package bench

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
)

// frameBuf is the receive side of one client WebSocket connection for a
// caller that does its own reads (the epoll listeners): bytes are read
// into free(), committed with add(n), and parse() consumes every complete
// frame, keeping a partial one (and a fragmented message) for the next
// read. Server frames are unmasked (RFC 6455 5.1).
type frameBuf struct {
	buf  []byte // buf[:n] is unparsed input
	n    int
	frag []byte // the data of a fragmented message so far
	infr bool   // inside a fragmented message
}

const frameBufMin = 4096

// free returns the space to read into. It is never empty: a frame larger
// than the buffer grows it to fit (up to maxListenerMsg plus header).
func (f *frameBuf) free() []byte {
	if f.buf == nil {
		f.buf = make([]byte, frameBufMin)
	}
	if f.n == len(f.buf) {
		f.grow(2 * len(f.buf))
	}
	return f.buf[f.n:]
}

func (f *frameBuf) grow(size int) {
	b := make([]byte, size)
	copy(b, f.buf[:f.n])
	f.buf = b
}

// add commits n bytes read into free().
func (f *frameBuf) add(n int) { f.n += n }

var (
	errBadFrame   = errors.New("masked or reserved-bit server frame")
	errTooLarge   = errors.New("message too large")
	errBadControl = errors.New("bad control frame")
)

// parse consumes the complete frames in the buffer. Each data message is
// passed to msg (the slice is valid only during the call). A ping is
// answered through ctrl(opPong, payload); a close frame through
// ctrl(opClose, code) and parse returns errServerClosed. An error from
// ctrl is returned as is.
func (f *frameBuf) parse(msg func([]byte), ctrl func(op byte, p []byte) error) error {
	p := f.buf[:f.n]
	var err error
	for err == nil {
		if len(p) < 2 {
			break
		}
		b0, b1 := p[0], p[1]
		if b1&0x80 != 0 || b0&0x70 != 0 {
			return errBadFrame
		}
		fin, op := b0&0x80 != 0, b0&0x0f
		hl, size := 2, uint64(b1&0x7f)
		switch size {
		case 126:
			if hl = 4; len(p) >= hl {
				size = uint64(binary.BigEndian.Uint16(p[2:4]))
			}
		case 127:
			if hl = 10; len(p) >= hl {
				size = binary.BigEndian.Uint64(p[2:10])
			}
		}
		if len(p) < hl {
			break
		}
		if size > maxListenerMsg || uint64(len(f.frag))+size > maxListenerMsg {
			return errTooLarge
		}
		total := hl + int(size)
		if len(p) < total {
			if total > len(f.buf) {
				// Make room for the whole frame: move it to the front
				// of a buffer that holds it.
				nb := make([]byte, max(total, 2*len(f.buf)))
				f.n = copy(nb, p)
				f.buf = nb
				return nil
			}
			break
		}
		payload := p[hl:total]
		p = p[total:]
		switch {
		case op >= opClose:
			if !fin || size > 125 {
				return errBadControl
			}
			switch op {
			case opPing:
				err = ctrl(opPong, payload)
			case opClose:
				_ = ctrl(opClose, payload[:min(2, len(payload))])
				err = errServerClosed
			}
		case op == opCont:
			if !f.infr {
				return errBadFrame
			}
			f.frag = append(f.frag, payload...)
			if fin {
				msg(f.frag)
				f.frag, f.infr = f.frag[:0], false
			}
		default: // text or binary
			if f.infr {
				return errBadFrame
			}
			if fin {
				msg(payload)
			} else {
				f.frag, f.infr = append(f.frag[:0], payload...), true
			}
		}
	}
	// Keep the partial frame at the front.
	if len(p) > 0 && len(p) < f.n {
		copy(f.buf, p)
	}
	f.n = len(p)
	return err
}

// appendClientFrame appends one masked client frame (RFC 6455 5.3).
func appendClientFrame(b []byte, op byte, p []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range p {
		b = append(b, c^key[i&3])
	}
	return b
}
