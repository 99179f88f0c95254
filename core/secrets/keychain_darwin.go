//go:build darwin && cgo

package secrets

import (
	"errors"
	"fmt"

	"github.com/keybase/go-keychain"
)

// keychainStore keeps each secret as a generic password in the login
// Keychain: service = the store's service, account = the key. Items stay on
// this Mac (not synchronised to iCloud) and are readable while it is
// unlocked. Their ACL names the binary that created them, so an unsigned
// rebuild triggers an "allow access" prompt (see spec/macos.md §4).
type keychainStore struct{ service string }

func openKeychain(service string) (Store, error) {
	return &keychainStore{service: service}, nil
}

func (s *keychainStore) Backend() string { return BackendKeychain }

func (s *keychainStore) Get(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	b, err := keychain.GetGenericPassword(s.service, key, "", "")
	if errors.Is(err, keychain.ErrorItemNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", keychainErr("read", key, err)
	}
	if b == nil {
		return "", ErrNotFound
	}
	return string(b), nil
}

func (s *keychainStore) Set(key, value string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	item := keychain.NewGenericPassword(s.service, key, s.service+" "+key, []byte(value), "")
	item.SetSynchronizable(keychain.SynchronizableNo)
	item.SetAccessible(keychain.AccessibleWhenUnlocked)
	err := keychain.AddItem(item)
	if errors.Is(err, keychain.ErrorDuplicateItem) {
		query := keychain.NewItem()
		query.SetSecClass(keychain.SecClassGenericPassword)
		query.SetService(s.service)
		query.SetAccount(key)
		update := keychain.NewItem()
		update.SetData([]byte(value))
		err = keychain.UpdateItem(query, update)
	}
	if err != nil {
		return keychainErr("write", key, err)
	}
	return nil
}

func (s *keychainStore) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := keychain.DeleteGenericPasswordItem(s.service, key)
	if err == nil || errors.Is(err, keychain.ErrorItemNotFound) {
		return nil
	}
	return keychainErr("delete", key, err)
}

func keychainErr(op, key string, err error) error {
	return fmt.Errorf("secrets: Keychain %s %q: %w", op, key, err)
}
