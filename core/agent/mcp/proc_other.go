//go:build !unix

package mcp

import (
	"os"
	"os/exec"
)

// setProcessGroup: without process groups only the server process itself
// is stopped.
func setProcessGroup(*exec.Cmd) {}

func terminateGroup(p *os.Process) {
	if p != nil {
		_ = p.Kill()
	}
}

func killGroup(p *os.Process) {
	if p != nil {
		_ = p.Kill()
	}
}
