package bench

import (
	"bytes"
	"errors"
	"testing"
)

// feed hands data to a frameBuf in reads of at most chunk bytes, as the
// epoll loop does, and collects what parse reports.
func feed(t *testing.T, f *frameBuf, data []byte, chunk int) (msgs [][]byte, ctrls []string, err error) {
	t.Helper()
	for len(data) > 0 && err == nil {
		p := f.free()
		if len(p) == 0 {
			t.Fatal("free() returned no space")
		}
		n := copy(p[:min(len(p), chunk)], data)
		data = data[n:]
		f.add(n)
		err = f.parse(func(m []byte) { msgs = append(msgs, append([]byte(nil), m...)) },
			func(op byte, p []byte) error {
				ctrls = append(ctrls, string(rune('0'+op))+":"+string(p))
				return nil
			})
	}
	return msgs, ctrls, err
}

func serverFrame(fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, p...)
}

func TestFrameBuf(t *testing.T) {
	small := []byte(`{"type":"event","event":"presence","seq":1}`)
	mid := bytes.Repeat([]byte("m"), 3000)      // 16-bit length
	big := bytes.Repeat([]byte("b"), 70000)     // 64-bit length, larger than the buffer
	huge := bytes.Repeat([]byte("h"), 3*4096+7) // 16-bit length, larger than the buffer
	var stream []byte
	stream = append(stream, serverFrame(true, opText, small)...)
	stream = append(stream, serverFrame(true, opPing, []byte("p1"))...)
	stream = append(stream, serverFrame(true, opText, mid)...)
	stream = append(stream, serverFrame(false, opText, []byte("abc"))...)
	stream = append(stream, serverFrame(true, opPing, nil)...) // between fragments
	stream = append(stream, serverFrame(false, opCont, []byte("de"))...)
	stream = append(stream, serverFrame(true, opCont, []byte("f"))...)
	stream = append(stream, serverFrame(true, opText, big)...)
	stream = append(stream, serverFrame(true, opPong, []byte("x"))...)
	stream = append(stream, serverFrame(true, opText, huge)...)
	stream = append(stream, serverFrame(true, opText, nil)...)
	want := [][]byte{small, mid, []byte("abcdef"), big, huge, {}}
	wantCtrl := []string{string(rune('0'+opPong)) + ":p1", string(rune('0'+opPong)) + ":"}

	// Every read size from 1 byte on splits the headers and payloads
	// differently across reads and buffer boundaries.
	for _, chunk := range []int{1, 2, 3, 5, 7, 100, 1000, 4095, 4096, 4097, 10000, 1 << 20} {
		var f frameBuf
		msgs, ctrls, err := feed(t, &f, stream, chunk)
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if len(msgs) != len(want) {
			t.Fatalf("chunk %d: %d messages, want %d", chunk, len(msgs), len(want))
		}
		for i := range want {
			if !bytes.Equal(msgs[i], want[i]) {
				t.Fatalf("chunk %d: message %d = %.40q (len %d), want %.40q (len %d)", chunk, i, msgs[i], len(msgs[i]), want[i], len(want[i]))
			}
		}
		if len(ctrls) != len(wantCtrl) || ctrls[0] != wantCtrl[0] || ctrls[1] != wantCtrl[1] {
			t.Fatalf("chunk %d: control replies %q, want %q", chunk, ctrls, wantCtrl)
		}
		if f.n != 0 {
			t.Fatalf("chunk %d: %d bytes left over", chunk, f.n)
		}
	}

	// A close frame is answered with its code and ends the stream.
	var f frameBuf
	closing := append(serverFrame(true, opText, []byte("last")), serverFrame(true, opClose, []byte{0x03, 0xe8, 'b', 'y', 'e'})...)
	closing = append(closing, serverFrame(true, opText, []byte("after close"))...)
	for _, chunk := range []int{1, 3, 4096} {
		f = frameBuf{}
		msgs, ctrls, err := feed(t, &f, closing, chunk)
		if !errors.Is(err, errServerClosed) {
			t.Fatalf("chunk %d: err = %v, want errServerClosed", chunk, err)
		}
		if len(msgs) != 1 || string(msgs[0]) != "last" {
			t.Fatalf("chunk %d: messages %q", chunk, msgs)
		}
		if len(ctrls) != 1 || ctrls[0] != string(rune('0'+opClose))+":\x03\xe8" {
			t.Fatalf("chunk %d: control replies %q", chunk, ctrls)
		}
	}

	// Masked or reserved-bit frames and stray continuations are errors.
	for _, bad := range [][]byte{{0x81, 0x81, 0, 0, 0, 0, 'x'}, {0xC1, 0}, {0x80, 1, 'x'}, {0x09, 0}} {
		f = frameBuf{}
		if _, _, err := feed(t, &f, bad, 4096); err == nil {
			t.Errorf("% x: no error", bad)
		}
	}
}

func TestAppendClientFrame(t *testing.T) {
	for _, n := range []int{0, 2, 125, 126, 70000} {
		p := bytes.Repeat([]byte("q"), n)
		b := appendClientFrame(nil, opPong, p)
		if b[0] != 0x80|opPong || b[1]&0x80 == 0 {
			t.Fatalf("n %d: header % x", n, b[:2])
		}
		hl := 2
		switch b[1] & 0x7f {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		key := b[hl : hl+4]
		got := b[hl+4:]
		if len(got) != n {
			t.Fatalf("n %d: payload length %d", n, len(got))
		}
		for i := range got {
			if got[i]^key[i&3] != 'q' {
				t.Fatalf("n %d: byte %d not masked with the key", n, i)
			}
		}
	}
}
