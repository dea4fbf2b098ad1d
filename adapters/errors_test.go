package adapters

import (
	"errors"
	"testing"

	"gocloud.dev/gcerrors"

	"github.com/eventbus-go/eventbus/errcode"
)

// A driver's error keeps the code the driver gave it; one the driver left
// unclassified takes its ErrorCode, so the bus reads errcode.Of alone.
func TestDriverErrorsGetTheirCodeOnce(t *testing.T) {
	notFound := func(error) gcerrors.ErrorCode { return gcerrors.NotFound }
	classified := errcode.Errorf(errcode.Unavailable, "channel %q: broker away", "orders")
	if got := classify(classified, notFound); got != classified {
		t.Errorf("classify changed an error that had a code: %v", got)
	}
	cause := errors.New("queue missing")
	got := classify(cause, notFound)
	if errcode.Of(got) != errcode.NotFound || !errors.Is(got, cause) {
		t.Errorf("classify(unclassified) = %v (code %v), want not_found from the driver's ErrorCode, wrapping the cause", got, errcode.Of(got))
	}
	if classify(nil, notFound) != nil {
		t.Error("classify(nil) is not nil")
	}
	// What DriverDefaults reports to gocloud's portable types round-trips.
	for _, c := range []errcode.Code{errcode.InvalidArgument, errcode.NotFound, errcode.FailedPrecondition, errcode.ResourceExhausted, errcode.Internal} {
		gc := DriverDefaults{}.ErrorCode(errcode.Errorf(c, "x"))
		if back := errcode.Of(classify(errors.New("x"), func(error) gcerrors.ErrorCode { return gc })); back != c {
			t.Errorf("%v → gocloud %v → %v: the two mappings disagree", c, gc, back)
		}
	}
}
