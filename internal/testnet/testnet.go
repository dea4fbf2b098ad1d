// Package testnet gives tests network addresses of their own.
package testnet

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback host:port that nothing listens on now, for a
// test to have a process bind there. Another process may take the port
// before the test binds it; the test's bind then fails, saying so.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
