//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package store

import "os"

// fileLock on platforms without flock or LockFileEx only records the pid;
// it cannot stop a second gateway. Pincer does not ship for these targets.
type fileLock struct{ f *os.File }

func acquireLock(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	writePID(f)
	return &fileLock{f: f}, nil
}

func (l *fileLock) release() {
	_ = l.f.Truncate(0)
	_ = l.f.Close()
}
