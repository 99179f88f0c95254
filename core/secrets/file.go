package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// File keeps secrets in one JSON file, mode 0600, replaced atomically
// (write to a temp file in the same directory, fsync, rename) on every
// change. Writers in one process are serialised by a per-path mutex; writers
// in different processes by an advisory lock on "<path>.lock" where the OS
// has flock (elsewhere two processes writing at the same instant can lose
// one update; readers never see a torn file).
type File struct {
	path string
	mu   *sync.Mutex
}

// fileDoc is the on-disk form; the version leaves room for a format change.
type fileDoc struct {
	Version int               `json:"version"`
	Secrets map[string]string `json:"secrets"`
}

const fileVersion = 1

// pathLocks gives every File on the same path one mutex, so that two stores
// opened on one file in a process do not lose each other's writes.
var pathLocks sync.Map // cleaned absolute path -> *sync.Mutex

// NewFile returns a file store at path. The file and its directory (0700)
// are created on the first Set.
func NewFile(path string) Store {
	key := filepath.Clean(path)
	if abs, err := filepath.Abs(key); err == nil {
		key = abs
	}
	mu, _ := pathLocks.LoadOrStore(key, new(sync.Mutex))
	return &File{path: key, mu: mu.(*sync.Mutex)}
}

// Path is the file the store reads and writes.
func (s *File) Path() string { return s.path }

func (s *File) Backend() string { return BackendFile }

func (s *File) Get(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	doc, err := s.read()
	if err != nil {
		return "", err
	}
	v, ok := doc.Secrets[key]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func (s *File) Set(key, value string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.update(func(m map[string]string) bool {
		if old, ok := m[key]; ok && old == value {
			return false
		}
		m[key] = value
		return true
	})
}

func (s *File) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.update(func(m map[string]string) bool {
		if _, ok := m[key]; !ok {
			return false
		}
		delete(m, key)
		return true
	})
}

// read loads the file; a missing file is an empty store. A file others can
// read is narrowed to 0600 and reported: its secrets may have leaked.
func (s *File) read() (*fileDoc, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &fileDoc{Version: fileVersion, Secrets: map[string]string{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		if cerr := f.Chmod(0o600); cerr != nil {
			slog.Warn("secrets: the secrets file is readable by other users and its mode cannot be fixed", "path", s.path, "mode", fi.Mode().Perm().String(), "err", cerr)
		} else {
			slog.Warn("secrets: the secrets file was readable by other users; its mode is now 0600 (consider rotating what it holds)", "path", s.path, "mode", fi.Mode().Perm().String())
		}
	}
	doc := new(fileDoc)
	if err := json.NewDecoder(f).Decode(doc); err != nil {
		return nil, fmt.Errorf("secrets: %s is not a valid secrets file (move it away to start over): %w", s.path, err)
	}
	if doc.Version > fileVersion {
		return nil, fmt.Errorf("secrets: %s has format version %d; this build reads %d", s.path, doc.Version, fileVersion)
	}
	if doc.Secrets == nil {
		doc.Secrets = map[string]string{}
	}
	return doc, nil
}

// update runs a read-modify-write under the process and file locks; change
// reports whether anything changed (nothing is written otherwise).
func (s *File) update(change func(map[string]string) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Dir(s.path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("secrets: %w", err)
		}
	}
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return fmt.Errorf("secrets: lock %s: %w", s.path, err)
	}
	defer unlock()
	doc, err := s.read()
	if err != nil {
		return err
	}
	if !change(doc.Secrets) {
		return nil
	}
	doc.Version = fileVersion
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	return writeAtomic(s.path, append(b, '\n'))
}

// writeAtomic replaces path with data so that a reader sees the old or the
// new content, never a mix, and a crash leaves one of the two.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	// CreateTemp already makes it 0600; be explicit, since that is the point.
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("secrets: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("secrets: write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("secrets: sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	ok = true
	syncDir(dir)
	return nil
}

// syncDir makes the rename durable; not every OS can fsync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
