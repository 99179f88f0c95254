// Command testserver is a stdio MCP server for the mcp package's tests.
//
// Tools: echo {text}, env {name}, cwd, pid, spawn (starts a child process
// that sleeps and returns its pid). With -linger the process ignores
// SIGTERM and stays alive after its stdin closes (to test killing);
// with -sleep it just sleeps (the spawned child). -stderr writes a line to
// stderr and exits with status 3 before serving.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func main() {
	linger := flag.Bool("linger", false, "ignore SIGTERM and stay alive after stdin closes")
	sleep := flag.Bool("sleep", false, "sleep for a minute")
	fail := flag.String("stderr", "", "write this to stderr and exit 3")
	flag.Parse()
	if *sleep {
		time.Sleep(time.Minute)
		return
	}
	if *fail != "" {
		fmt.Fprintln(os.Stderr, *fail)
		os.Exit(3)
	}
	if *linger {
		signal.Ignore(syscall.SIGTERM)
	}

	s := mcp.NewServer(&mcp.Implementation{Name: "testserver", Version: "1"}, nil)
	type echoArgs struct {
		Text string `json:"text" jsonschema:"the text to echo"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echo the text."},
		func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
			return text(a.Text), nil, nil
		})
	type envArgs struct {
		Name string `json:"name"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "env", Description: "An environment variable."},
		func(_ context.Context, _ *mcp.CallToolRequest, a envArgs) (*mcp.CallToolResult, any, error) {
			return text(os.Getenv(a.Name)), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "cwd", Description: "The working directory."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			wd, err := os.Getwd()
			return text(wd), nil, err
		})
	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "The server's process id."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return text(fmt.Sprint(os.Getpid())), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "spawn", Description: "Start a sleeping child; returns its pid."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			self, err := os.Executable()
			if err != nil {
				return nil, nil, err
			}
			cmd := exec.Command(self, "-sleep")
			if err := cmd.Start(); err != nil {
				return nil, nil, err
			}
			go cmd.Wait()
			return text(fmt.Sprint(cmd.Process.Pid)), nil, nil
		})

	err := s.Run(context.Background(), &mcp.StdioTransport{})
	if *linger {
		time.Sleep(time.Minute)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
