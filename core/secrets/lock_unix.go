//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package secrets

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock, held until unlock is called.
// The lock file itself stays (removing it would race with other lockers).
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
