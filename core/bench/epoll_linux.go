//go:build linux

package bench

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const epollSupported = true

// epollListeners reads the fan-out listeners after their handshake: one
// epoll instance per loop, each loop a goroutine locked to its own OS
// thread, which owns its share of the sockets (assigned round-robin).
// Sockets are non-blocking and edge-triggered; per readiness event a loop
// makes one read(2) into the connection's frameBuf (again only when the
// read filled the buffer: a short read means the socket is drained, and
// new data raises a new edge), parses the complete frames and runs
// fanCheck on each message. Pings are answered with a masked pong written
// directly to the socket; a close frame is answered and ends the
// connection.
type epollListeners struct {
	loops []*epollLoop
	next  int
	stop  atomic.Bool
	wg    sync.WaitGroup
}

type epollLoop struct {
	epfd  int
	chk   *fanCheck
	mu    sync.Mutex   // guards conns (adds vs. the loop)
	conns []*epollConn // by fd
	open  []int        // every fd handed over, for close
}

type epollConn struct {
	fd int
	fb frameBuf
	st listenState
	// wbuf is reused for control frames.
	wbuf []byte
	dead bool
}

func newEpollListeners(threads int, chk *fanCheck) (*epollListeners, error) {
	if threads <= 0 {
		threads = 1
	}
	e := &epollListeners{}
	for i := 0; i < threads; i++ {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			e.close()
			return nil, err
		}
		e.loops = append(e.loops, &epollLoop{epfd: fd, chk: chk})
	}
	for _, l := range e.loops {
		e.wg.Add(1)
		go l.run(e)
	}
	return e, nil
}

// add hands a handshaken listener over: its socket is duplicated, bytes
// already buffered are carried over, and the net.Conn is closed (which
// removes it from Go's poller; the duplicate keeps the socket open).
func (e *epollListeners) add(ls *listener) error {
	tc, ok := ls.nc.(*net.TCPConn)
	if !ok {
		return fmt.Errorf("listener is not a plain TCP connection (%T)", ls.nc)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			derr = errno
			return
		}
		nfd = int(r)
	}); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	// The duplicate shares the file description, so it is non-blocking
	// like the original; make sure.
	if err := syscall.SetNonblock(nfd, true); err != nil {
		syscall.Close(nfd)
		return err
	}
	c := &epollConn{fd: nfd}
	if n := ls.br.Buffered(); n > 0 {
		b, _ := ls.br.Peek(n)
		for len(c.fb.free()) < n {
			c.fb.grow(2 * len(c.fb.buf))
		}
		c.fb.add(copy(c.fb.free(), b))
	}
	_ = ls.nc.Close()

	l := e.loops[e.next%len(e.loops)]
	e.next++
	l.mu.Lock()
	for len(l.conns) <= nfd {
		l.conns = append(l.conns, nil)
	}
	l.conns[nfd] = c
	l.open = append(l.open, nfd)
	// Frames that came with the handshake are handled before any new
	// read (under mu, so not concurrently with the loop).
	l.handle(c)
	l.mu.Unlock()
	if c.dead {
		return errors.New("connection ended right after the handshake")
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | (syscall.EPOLLET & 0xffffffff), Fd: int32(nfd)}
	return syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, nfd, &ev)
}

func (l *epollLoop) run(e *epollListeners) {
	defer e.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]syscall.EpollEvent, 512)
	for !e.stop.Load() {
		// The timeout only bounds how long close waits.
		n, err := syscall.EpollWait(l.epfd, events, 100)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		if n <= 0 {
			continue
		}
		l.mu.Lock()
		for i := range events[:n] {
			fd := int(events[i].Fd)
			if fd < 0 || fd >= len(l.conns) || l.conns[fd] == nil {
				continue
			}
			c := l.conns[fd]
			if !c.dead {
				l.readable(c)
			}
		}
		l.mu.Unlock()
	}
}

// readable reads until a read comes back short (or fails).
func (l *epollLoop) readable(c *epollConn) {
	for !c.dead {
		p := c.fb.free()
		n, err := syscall.Read(c.fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n == 0 {
			l.kill(c)
			return
		}
		c.fb.add(n)
		l.handle(c)
		if n < len(p) {
			return
		}
	}
}

func (l *epollLoop) handle(c *epollConn) {
	err := c.fb.parse(func(msg []byte) { l.chk.message(&c.st, msg) }, func(op byte, p []byte) error {
		c.wbuf = appendClientFrame(c.wbuf[:0], op, p)
		return writeAll(c.fd, c.wbuf)
	})
	if err != nil {
		l.kill(c)
	}
}

// kill stops reading a connection; its fd is closed with the others.
func (l *epollLoop) kill(c *epollConn) {
	c.dead = true
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
}

// writeAll writes a small control frame to a non-blocking socket.
func writeAll(fd int, b []byte) error {
	deadline := time.Now().Add(5 * time.Second)
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(100 * time.Microsecond)
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// close stops the loops and closes every socket handed over.
func (e *epollListeners) close() {
	e.stop.Store(true)
	e.wg.Wait()
	for _, l := range e.loops {
		for _, fd := range l.open {
			_ = syscall.Close(fd)
		}
		l.open, l.conns = nil, nil
		_ = syscall.Close(l.epfd)
	}
}
