package host_test

import "github.com/pincerhq/pincer/node/commands"

// hostCommands: system.run is allowed for the test's sh only.
func hostCommands() commands.Config {
	return commands.Config{ExecPolicy: commands.ExecPolicyAllowlist, ExecAllowlist: []string{"sh"}}
}
