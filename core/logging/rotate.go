package logging

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// rotatingWriter appends to path and, when a write would take the file past
// maxBytes, shifts path → path.1 → … → path.keep (dropping the oldest) and
// starts a new file. A single write larger than maxBytes still goes out whole,
// into a fresh file.
type rotatingWriter struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	keep     int
	f        *os.File
	size     int64
}

func openRotating(path string, maxBytes int64, keep int) (*rotatingWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	w := &rotatingWriter{path: path, maxBytes: maxBytes, keep: keep}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *rotatingWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, st.Size()
	return nil
}

func (w *rotatingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, os.ErrClosed
	}
	if w.size > 0 && w.size+int64(len(p)) > w.maxBytes {
		if err := w.rotate(); err != nil {
			// Keep logging into whatever file is open rather than losing
			// records; the next write retries the rotation.
			if w.f == nil {
				return 0, err
			}
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *rotatingWriter) archive(i int) string { return fmt.Sprintf("%s.%d", w.path, i) }

func (w *rotatingWriter) rotate() error {
	if err := w.f.Close(); err != nil {
		w.f = nil
		if oerr := w.open(); oerr != nil {
			return errors.Join(err, oerr)
		}
		return err
	}
	w.f = nil
	var errs []error
	if w.keep <= 0 {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	} else {
		if err := os.Remove(w.archive(w.keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for i := w.keep - 1; i >= 1; i-- {
			if err := os.Rename(w.archive(i), w.archive(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := os.Rename(w.path, w.archive(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := w.open(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close flushes and closes the active file; later writes fail.
func (w *rotatingWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
