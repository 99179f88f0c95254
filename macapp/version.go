package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.stdout, "pincer %s\n", version)
			fmt.Fprintf(a.stdout, "protocol %d (OpenClaw %s compatible; client version %s)\n",
				protocol.Version, protocol.CompatVersion, client.ClientVersion)
			fmt.Fprintf(a.stdout, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
