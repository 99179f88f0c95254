package gateway

import (
	"net"
	"testing"
)

// A close must not drop the remainder of a frame already partly on the
// socket: the peer would read the close frame as that frame's payload.
func TestDropQueueKeepsStartedFrame(t *testing.T) {
	c := &Conn{}
	c.queue = []outFrame{
		{b: make([]byte, 100), off: 40},
		{b: make([]byte, 50)},
		{b: make([]byte, 30)},
	}
	c.queued = 60 + 50 + 30
	c.dropQueueLocked(net.ErrClosed)
	if len(c.queue) != 1 || c.queue[0].off != 40 || c.queued != 60 {
		t.Fatalf("after drop: %d frames, queued %d; want the started frame (60 bytes left)", len(c.queue), c.queued)
	}

	// Frames not started are all dropped.
	c.queue = []outFrame{{b: make([]byte, 10)}, {b: make([]byte, 20)}}
	c.queued = 30
	c.dropQueueLocked(net.ErrClosed)
	if len(c.queue) != 0 || c.queued != 0 {
		t.Fatalf("after drop: %d frames, queued %d; want none", len(c.queue), c.queued)
	}

	// A dead socket keeps nothing.
	c.wdead = true
	c.queue = []outFrame{{b: make([]byte, 100), off: 40}}
	c.queued = 60
	c.dropQueueLocked(net.ErrClosed)
	if len(c.queue) != 0 || c.queued != 0 {
		t.Fatalf("dead socket: %d frames, queued %d; want none", len(c.queue), c.queued)
	}
}
