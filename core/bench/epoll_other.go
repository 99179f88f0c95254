//go:build !linux

package bench

import "errors"

const epollSupported = false

// epollListeners exists only on Linux; elsewhere the fan-out uses the
// goroutine-per-listener reader.
type epollListeners struct{}

func newEpollListeners(int, *fanCheck) (*epollListeners, error) {
	return nil, errors.New("epoll listeners need Linux")
}

func (*epollListeners) add(*listener) error { return errors.New("epoll listeners need Linux") }

func (*epollListeners) close() {}
