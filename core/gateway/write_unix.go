//go:build unix

package gateway

import "syscall"

// writeNonblock makes one write(2) on the socket, which Go keeps in
// non-blocking mode, and never waits for it to become writable: it returns
// how much the kernel took (0 when the send buffer is full).
func writeNonblock(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				return true
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if werr == syscall.EAGAIN {
		return 0, nil
	}
	if werr != nil {
		return 0, werr
	}
	return n, nil
}
