package errcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// An error says its cause once, and still unwraps to it.
func TestErrorfSaysItsCauseOnce(t *testing.T) {
	err := Errorf(Unavailable, "channel %q: publishing: %w", "orders", io.ErrUnexpectedEOF)
	if got, want := err.Error(), `channel "orders": publishing: unexpected EOF`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || Of(err) != Unavailable {
		t.Errorf("the error lost its cause or its code: %v", err)
	}
}

// The code survives wrapping, so a caller several layers up still knows
// whether to retry.
func TestCodeSurvivesWrapping(t *testing.T) {
	err := fmt.Errorf("route orders: %w", Errorf(NotFound, "channel orders does not exist"))
	if got := Of(err); got != NotFound {
		t.Errorf("Of(wrapped) = %v, want not_found: wrapping must not hide what the caller should do", got)
	}
	if got := Of(fmt.Errorf("waiting: %w", context.DeadlineExceeded)); got != Unavailable {
		t.Errorf("Of(deadline) = %v, want unavailable: a caller that ran out of time may try again", got)
	}
	if got := Of(errors.New("boom")); got != Unknown {
		t.Errorf("Of(unclassified) = %v, want unknown", got)
	}
}

// The names are the "code" of the HTTP API's error bodies.
func TestCodeNamesAreTheAPIsErrorCodes(t *testing.T) {
	for c, want := range map[Code]string{
		Unknown: "unknown", InvalidArgument: "invalid_argument", NotFound: "not_found",
		FailedPrecondition: "failed_precondition", ResourceExhausted: "resource_exhausted",
		Unavailable: "unavailable", Internal: "internal",
	} {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q, want %q: clients branch on these names", int(c), got, want)
		}
	}
}
