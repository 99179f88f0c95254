//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package store

import (
	"errors"
	"os"
	"syscall"
)

// fileLock is an flock(2) lock. flock locks belong to the open file
// description, so they vanish with the process (no stale locks after a
// crash) and a second Open in the same process also conflicts.
type fileLock struct{ f *os.File }

func acquireLock(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
			return nil, &lockHeldError{file: path, pid: readPID(f)}
		}
		return nil, err
	}
	writePID(f)
	return &fileLock{f: f}, nil
}

// release leaves the file in place: unlinking a lock file races with a
// process that has just opened it.
func (l *fileLock) release() {
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}
