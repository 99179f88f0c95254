package secrets

import (
	"bufio"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

func TestForcedKeyringUnavailable(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
	t.Setenv(EnvBackend, "keyring")
	if _, err := Open(t.TempDir(), "ai.pincer.test"); err == nil || !strings.Contains(err.Error(), "D-Bus") {
		t.Fatalf("forced keyring without a bus: %v", err)
	}
}

// A session bus without a Secret Service on it: the probe says no at once.
func TestProbeBusWithoutSecretService(t *testing.T) {
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("no dbus-daemon")
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(bin, "--session", "--nofork", "--print-address", "--address=unix:path="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Skipf("dbus-daemon printed no address: %v", err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", strings.TrimSpace(line))
	start := time.Now()
	if err := probeSecretService(5 * time.Second); err == nil || !strings.Contains(err.Error(), "secret service") {
		t.Fatalf("probe: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("probe took %s", d)
	}
	t.Setenv(EnvBackend, "")
	s, err := Open(t.TempDir(), "ai.pincer.test")
	if err != nil || s.Backend() != BackendFile {
		t.Fatalf("Open: %v %v", s, err)
	}
}

// The Secret Service wrapper over go-keyring's in-memory mock: the same
// contract as the other stores.
func TestSecretServiceStoreContract(t *testing.T) {
	keyring.MockInit()
	testStore(t, &secretService{service: "ai.pincer.test"})

	keyring.MockInitWithError(errors.New("bus gone"))
	s := &secretService{service: "ai.pincer.test"}
	if _, err := s.Get("a"); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "bus gone") {
		t.Fatalf("Get with a failing keyring: %v", err)
	}
	if err := s.Set("a", "b"); err == nil {
		t.Fatal("Set with a failing keyring succeeded")
	}
	keyring.MockInit()
}
