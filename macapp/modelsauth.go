package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pincerhq/pincer/core/daemon"
)

var providerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// keyEnvName is the variable a provider's key is read from
// ("anthropic" → ANTHROPIC_API_KEY).
func keyEnvName(provider string) string {
	return strings.ToUpper(strings.ReplaceAll(provider, "-", "_")) + "_API_KEY"
}

// modelsAuthCmd stores a provider key in this profile's secret store, where
// the local gateway looks after the environment.
func (a *app) modelsAuthCmd() *cobra.Command {
	var fromStdin, remove bool
	cmd := &cobra.Command{
		Use:   "auth PROVIDER",
		Short: "Store a model provider's API key in the secret store the local gateway reads",
		Long: "Store a model provider's API key (e.g. anthropic → ANTHROPIC_API_KEY) in this profile's secret\n" +
			"store: the macOS Keychain, the Secret Service on Linux desktops, or a 0600 file. The local gateway\n" +
			"reads keys from its environment first, then from this store, on every run (no restart needed).\n" +
			"The key is read from the terminal without echo, or from stdin with --stdin.",
		Example: "  pincer models auth anthropic\n  echo \"$KEY\" | pincer models auth openai --stdin\n  pincer models auth openai --remove",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			provider := strings.TrimSpace(args[0])
			if !providerIDPattern.MatchString(provider) {
				return usagef("invalid provider id %q", provider)
			}
			name := keyEnvName(provider)
			store, err := openSecrets(a.profile)
			if err != nil {
				return fmt.Errorf("cannot open the secret store: %w", err)
			}
			if remove {
				if err := store.Delete(daemon.SecretEnvPrefix + name); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Removed %s from the %s secret store.\n", name, store.Backend())
				return nil
			}
			key, err := a.readKey(cmd.InOrStdin(), fromStdin, name)
			if err != nil {
				return err
			}
			if err := store.Set(daemon.SecretEnvPrefix+name, key); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Stored %s in the %s secret store; the gateway uses it from its next run.\n", name, store.Backend())
			if os.Getenv(name) != "" {
				fmt.Fprintf(a.stderr, "Note: %s is also set in this environment; a gateway started from it uses that value first.\n", name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "stdin", false, "read the key from stdin")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the stored key")
	return cmd
}

func (a *app) readKey(in io.Reader, fromStdin bool, name string) (string, error) {
	var key string
	if f, ok := in.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(a.stderr, "%s: ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", err
		}
		key = string(b)
	} else {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		key = line
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", usagef("no key given")
	}
	return key, nil
}
