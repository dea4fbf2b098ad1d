package adapters

import (
	"errors"
	"io"
	"testing"
)

// An error says its cause once, and still unwraps to it.
func TestErrorfSaysItsCauseOnce(t *testing.T) {
	err := Errorf(Unavailable, "channel %q: publishing: %w", "orders", io.ErrUnexpectedEOF)
	if got, want := err.Error(), `channel "orders": publishing: unexpected EOF`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || CodeOf(err) != Unavailable {
		t.Errorf("the error lost its cause or its code: %v", err)
	}
}
