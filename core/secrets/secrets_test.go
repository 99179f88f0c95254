package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

func testStore(t *testing.T, s Store) {
	t.Helper()
	if _, err := s.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	if err := s.Delete("a"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if err := s.Set("a", "one"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("b|ws://h:1|operator", "two\nlines"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("a", "uno"); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"a": "uno", "b|ws://h:1|operator": "two\nlines"} {
		if got, err := s.Get(k); err != nil || got != want {
			t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, want)
		}
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if err := s.Set("", "x"); err == nil {
		t.Fatal("empty key accepted")
	}
}

func TestMemory(t *testing.T) {
	s := NewMemory()
	if s.Backend() != BackendMemory {
		t.Fatal(s.Backend())
	}
	testStore(t, s)
}

func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "credentials")
	path := filepath.Join(dir, FileName)
	s := NewFile(path)
	if s.Backend() != BackendFile {
		t.Fatal(s.Backend())
	}
	testStore(t, s)

	if runtime.GOOS != "windows" {
		if p := perm(t, path); p != 0o600 {
			t.Fatalf("file mode %v", p)
		}
		if p := perm(t, dir); p != 0o700 {
			t.Fatalf("dir mode %v", p)
		}
	}
	// Only the file and its lock: no temp file is left behind.
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != FileName || names[1] != FileName+".lock" {
		t.Fatalf("directory holds %v", names)
	}
	var doc struct {
		Version int
		Secrets map[string]string
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &doc); err != nil || doc.Version != 1 || doc.Secrets["b|ws://h:1|operator"] != "two\nlines" {
		t.Fatalf("file content %s (%v)", b, err)
	}

	// A second store on the same file sees the first one's writes.
	if v, err := NewFile(path).Get("b|ws://h:1|operator"); err != nil || v != "two\nlines" {
		t.Fatalf("second store: %q %v", v, err)
	}
}

func TestFileStoreAtomicReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s := NewFile(path)
	if err := s.Set("k", "v1"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	if err := s.Set("k", "v2"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	// A rename puts a new inode in place; an in-place write would not.
	if os.SameFile(before, after) {
		t.Fatal("file was rewritten in place, not replaced")
	}
	// Setting the same value again writes nothing.
	if err := s.Set("k", "v2"); err != nil {
		t.Fatal(err)
	}
	again, _ := os.Stat(path)
	if !os.SameFile(after, again) {
		t.Fatal("unchanged Set rewrote the file")
	}
}

func TestFileStoreFixesLooseMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(`{"version":1,"secrets":{"k":"v"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := NewFile(path).Get("k")
	if err != nil || v != "v" {
		t.Fatalf("%q %v", v, err)
	}
	if p := perm(t, path); p != 0o600 {
		t.Fatalf("mode left at %v", p)
	}
}

func TestFileStoreCorruptFileIsNotClobbered(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewFile(path)
	if _, err := s.Get("k"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get: %v", err)
	}
	if err := s.Set("k", "v"); err == nil {
		t.Fatal("Set over a corrupt file succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Fatalf("corrupt file replaced: %q", b)
	}
}

func TestFileStoreConcurrentSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c", FileName)
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half the writers use their own store on the same path.
			s := NewFile(path)
			if err := s.Set("k"+strconv.Itoa(i), strconv.Itoa(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s := NewFile(path)
	for i := range n {
		if v, err := s.Get("k" + strconv.Itoa(i)); err != nil || v != strconv.Itoa(i) {
			t.Fatalf("k%d = %q, %v", i, v, err)
		}
	}
}

// Two processes writing the same file at once keep every key (flock).
func TestFileStoreTwoProcesses(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("flock")
	}
	path := filepath.Join(t.TempDir(), FileName)
	var cmds []*exec.Cmd
	for w := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreWriterHelper$")
		cmd.Env = append(os.Environ(), "SECRETS_TEST_WRITER="+path, "SECRETS_TEST_PREFIX=p"+strconv.Itoa(w))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	s := NewFile(path)
	for w := range 2 {
		for i := range 40 {
			k := fmt.Sprintf("p%d-%d", w, i)
			if _, err := s.Get(k); err != nil {
				t.Fatalf("%s lost: %v", k, err)
			}
		}
	}
}

func TestFileStoreWriterHelper(t *testing.T) {
	path := os.Getenv("SECRETS_TEST_WRITER")
	if path == "" {
		t.Skip("helper for TestFileStoreTwoProcesses")
	}
	s := NewFile(path)
	for i := range 40 {
		if err := s.Set(fmt.Sprintf("%s-%d", os.Getenv("SECRETS_TEST_PREFIX"), i), "v"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenForcedFile(t *testing.T) {
	state := t.TempDir()
	cred := filepath.Join(state, "credentials")
	if err := os.MkdirAll(cred, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cred, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvBackend, "file")
	s, err := Open(state, "ai.pincer.test")
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend() != BackendFile || s.(*File).Path() != FilePath(state) {
		t.Fatalf("%s %+v", s.Backend(), s)
	}
	if runtime.GOOS != "windows" {
		if p := perm(t, cred); p != 0o700 {
			t.Fatalf("credentials dir mode %v", p)
		}
	}
	testStore(t, s)
}

func TestOpenErrors(t *testing.T) {
	t.Setenv(EnvBackend, "vault")
	if _, err := Open(t.TempDir(), "ai.pincer.test"); err == nil {
		t.Fatal("unknown backend accepted")
	}
	t.Setenv(EnvBackend, "file")
	if _, err := Open("", "ai.pincer.test"); err == nil {
		t.Fatal("empty state dir accepted")
	}
	if runtime.GOOS != "darwin" {
		t.Setenv(EnvBackend, "keychain")
		if _, err := Open(t.TempDir(), "ai.pincer.test"); err == nil {
			t.Fatal("keychain forced off darwin")
		}
	}
}

// Without a reachable session bus, Open settles on the file store quickly,
// and never starts a bus of its own.
func TestOpenFallsBackWithoutDBus(t *testing.T) {
	if runtime.GOOS == "darwin" {
		t.Skip("darwin uses the Keychain")
	}
	t.Setenv(EnvBackend, "")
	for name, addr := range map[string]string{
		"bogus": "unix:path=" + filepath.Join(t.TempDir(), "no-such-bus"),
		"unset": "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
			if addr == "" {
				os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
				if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
					t.Skip("this machine has a session bus at /run/user/<uid>/bus")
				}
			}
			start := time.Now()
			s, err := Open(t.TempDir(), "ai.pincer.test")
			if err != nil {
				t.Fatal(err)
			}
			if s.Backend() != BackendFile {
				t.Fatalf("backend %s", s.Backend())
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Open took %s", d)
			}
			if addr == "" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
				t.Fatal("a session bus was launched")
			}
		})
	}
}
