package mcp

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// testServerBinary builds internal/testserver (a stdio MCP server) once.
func testServerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "pincer-mcp-test"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "testserver")
		if runtime.GOOS == "windows" {
			buildBin += ".exe"
		}
		out, err := exec.Command(goTool, "build", "-o", buildBin, "./internal/testserver").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		if _, ok := buildErr.(*buildError); ok {
			t.Fatalf("building the test server: %v", buildErr)
		}
		t.Skipf("cannot build the test server: %v", buildErr)
	}
	return buildBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
