//go:build windows

package store

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

var (
	kernel32         = syscall.NewLazyDLL("kernel32.dll")
	procLockFileEx   = kernel32.NewProc("LockFileEx")
	procUnlockFileEx = kernel32.NewProc("UnlockFileEx")
)

const (
	lockfileFailImmediately = 0x1
	lockfileExclusiveLock   = 0x2
	errorLockViolation      = syscall.Errno(33)
	// The locked byte sits far beyond the pid text so that a second
	// gateway can still read who holds the lock.
	lockOffsetHigh = 0x40000000
)

type fileLock struct{ f *os.File }

func acquireLock(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	ol := syscall.Overlapped{OffsetHigh: lockOffsetHigh}
	r, _, e := procLockFileEx.Call(f.Fd(), lockfileExclusiveLock|lockfileFailImmediately, 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
	if r == 0 {
		defer f.Close()
		if errors.Is(e, errorLockViolation) {
			return nil, &lockHeldError{file: path, pid: readPID(f)}
		}
		return nil, e
	}
	writePID(f)
	return &fileLock{f: f}, nil
}

func (l *fileLock) release() {
	_ = l.f.Truncate(0)
	ol := syscall.Overlapped{OffsetHigh: lockOffsetHigh}
	_, _, _ = procUnlockFileEx.Call(l.f.Fd(), 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
	_ = l.f.Close()
}
