//go:build !(darwin && cgo)

package secrets

// The Keychain needs cgo (Security.framework); a darwin build without cgo
// uses the file store.
func openKeychain(string) (Store, error) { return nil, errUnavailable }
