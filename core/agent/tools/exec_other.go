//go:build !unix

package tools

import (
	"os"
	"os/exec"
)

// setProcessGroup: without process groups, cancellation kills the shell
// only (exec.CommandContext's default).
func setProcessGroup(*exec.Cmd) {}

func exitSignal(*os.ProcessState) string { return "" }
