//go:build unix

package agent_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

// buildPincer builds the pincer binary for a crash test.
func buildPincer(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pincer")
	cmd := exec.Command("go", "build", "-o", bin, "./macapp")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./macapp: %v\n%s", err, b)
	}
	return bin
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs `pincer gateway run` on state and waits for it.
func startProcess(t *testing.T, bin, state string, port int) (*exec.Cmd, *client.Client) {
	t.Helper()
	cmd := exec.Command(bin, "gateway", "run", "--port", fmt.Sprint(port), "--token", "crash-token")
	cmd.Env = append(os.Environ(), "PINCER_STATE_DIR="+state, "PINCER_CONFIG_PATH=", "PINCER_GATEWAY_TOKEN=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("ws://127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.Dial(ctx, client.Options{URL: url, Token: "crash-token", Scopes: protocol.CLIDefaultScopes})
		cancel()
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			return cmd, c
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not come up: %v", err)
		}
	}
}

// TestCrashMidRunKeepsTheTranscript kills the gateway while a run streams,
// restarts it, and checks: the user's turn is stored once, the run is
// recorded as failed, and repeating its idempotency key does not run the
// model again.
func TestCrashMidRunKeepsTheTranscript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a gateway process")
	}
	m := fakeModel(t)
	m.SetChunkDelay(300 * time.Millisecond)
	bin := buildPincer(t)
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "pincer.json"), []byte(m.Config()), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd, c := startProcess(t, bin, state, port)
	var started map[string]any
	if err := c.Call(context.Background(), "chat.send", map[string]any{"sessionKey": "main", "message": "tell me a long story",
		"idempotencyKey": "crash-1"}, &started); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); m.Calls() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the model was never called")
		}
	}
	time.Sleep(500 * time.Millisecond) // mid-stream
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	calls := m.Calls()

	_, c2 := startProcess(t, bin, state, port)
	var hist struct{ Messages []map[string]any }
	if err := c2.Call(context.Background(), "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist); err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, msg := range hist.Messages {
		if msg["role"] == "user" {
			users++
			if msg["content"] != "tell me a long story" {
				t.Fatalf("user turn = %v", msg)
			}
		}
	}
	if users != 1 {
		t.Fatalf("%d user turns after the crash: %v", users, hist.Messages)
	}
	var wait map[string]any
	if err := c2.Call(context.Background(), "agent.wait", map[string]any{"runId": "crash-1", "timeoutMs": 100}, &wait); err != nil {
		t.Fatal(err)
	}
	if wait["status"] != "error" || !strings.Contains(fmt.Sprint(wait["error"]), "interrupted") {
		t.Fatalf("the interrupted run = %v", wait)
	}
	// The same key again: answered from the record, no second model call.
	var again map[string]any
	_ = c2.Call(context.Background(), "chat.send", map[string]any{"sessionKey": "main", "message": "tell me a long story",
		"idempotencyKey": "crash-1"}, &again)
	time.Sleep(300 * time.Millisecond)
	if m.Calls() != calls {
		t.Fatalf("the repeated key ran the model again (%d → %d calls)", calls, m.Calls())
	}
	if err := c2.Call(context.Background(), "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist); err != nil {
		t.Fatal(err)
	}
	if n := len(hist.Messages); n != 1 {
		t.Fatalf("history grew to %d messages after the repeat", n)
	}
}
