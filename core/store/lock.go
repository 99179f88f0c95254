package store

import (
	"io"
	"os"
	"strconv"
	"strings"
)

// lockHeldError means another process holds the state-dir lock.
type lockHeldError struct {
	file string
	pid  int // 0 when the holder has not written its pid (yet)
}

func (e *lockHeldError) Error() string { return "lock " + e.file + " is held" }

// readPID reads the holder's pid from the lock file.
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// writePID records our pid so a second gateway can say who holds the lock.
func writePID(f *os.File) {
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
}
