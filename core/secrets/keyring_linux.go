//go:build linux

package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	dbus "github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// probeTimeout bounds the check that a Secret Service answers; opTimeout
// bounds each later call (an unlock prompt can keep one waiting on the user).
var (
	probeTimeout = 1500 * time.Millisecond
	opTimeout    = 30 * time.Second
)

// secretService stores each secret as a Secret Service item with the
// attributes service=<service>, username=<key> (go-keyring's layout, so
// `secret-tool lookup service ai.pincer.default username device.identity`
// finds it).
type secretService struct{ service string }

func openKeyring(service string) (Store, error) {
	if err := probeSecretService(probeTimeout); err != nil {
		return nil, err
	}
	return &secretService{service: service}, nil
}

// sessionBusAddress finds the session bus the way godbus does, minus its
// last resort: godbus runs dbus-launch when it finds no address, which would
// start a bus (and hang or litter) on a headless machine.
func sessionBusAddress() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a
	}
	p := "/run/user/" + strconv.Itoa(os.Getuid()) + "/bus"
	if _, err := os.Stat(p); err == nil {
		return "unix:path=" + dbus.EscapeBusAddressValue(p)
	}
	return ""
}

// probeSecretService checks, within timeout, that the session bus accepts
// us and that org.freedesktop.secrets answers (D-Bus activation included).
// A stuck peer leaves a goroutine behind until its socket gives up; the
// caller has moved on to the file store by then.
func probeSecretService(timeout time.Duration) error {
	addr := sessionBusAddress()
	if addr == "" {
		return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
		if err != nil {
			done <- fmt.Errorf("D-Bus session bus: %w", err)
			return
		}
		defer conn.Close()
		var v dbus.Variant
		err = conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").
			CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.Secret.Service", "Collections").
			Store(&v)
		if err != nil {
			done <- fmt.Errorf("secret service: %w", err)
			return
		}
		done <- nil
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("secret service did not answer within %s", timeout)
	}
}

// call runs one go-keyring operation with opTimeout: go-keyring has no
// context, and a wedged bus must not hang the CLI.
func call[T any](what string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	t := time.NewTimer(opTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, fmt.Errorf("secrets: Secret Service %s: no answer within %s (is the keyring locked?)", what, opTimeout)
	}
}

func (s *secretService) Backend() string { return BackendKeyring }

func (s *secretService) Get(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	v, err := call("get", func() (string, error) { return keyring.Get(s.service, key) })
	if errors.Is(err, keyring.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", wrapKeyring("get", err)
	}
	return v, nil
}

func (s *secretService) Set(key, value string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := call("set", func() (struct{}, error) { return struct{}{}, keyring.Set(s.service, key, value) })
	return wrapKeyring("set", err)
}

func (s *secretService) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := call("delete", func() (struct{}, error) { return struct{}{}, keyring.Delete(s.service, key) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return wrapKeyring("delete", err)
}

func wrapKeyring(op string, err error) error {
	if err == nil || strings.HasPrefix(err.Error(), "secrets: ") {
		return err
	}
	return fmt.Errorf("secrets: Secret Service %s: %w", op, err)
}
