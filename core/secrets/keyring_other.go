//go:build !linux

package secrets

// The Secret Service backend is Linux-only here: on darwin go-keyring would
// shell out to /usr/bin/security, and the Keychain backend covers that.
func openKeyring(string) (Store, error) { return nil, errUnavailable }
