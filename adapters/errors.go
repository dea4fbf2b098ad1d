package adapters

import (
	"gocloud.dev/gcerrors"

	"github.com/eventbus-go/eventbus/errcode"
)

// CodeOf classifies an error that may have come through gocloud's pubsub:
// errcode.Of for the project's own errors and ended contexts, else the
// code gocloud attached to it, else errcode.Unknown.
func CodeOf(err error) errcode.Code {
	if code := errcode.Of(err); code != errcode.Unknown {
		return code
	}
	switch gcerrors.Code(err) {
	case gcerrors.InvalidArgument:
		return errcode.InvalidArgument
	case gcerrors.NotFound:
		return errcode.NotFound
	case gcerrors.FailedPrecondition:
		return errcode.FailedPrecondition
	case gcerrors.ResourceExhausted:
		return errcode.ResourceExhausted
	case gcerrors.DeadlineExceeded, gcerrors.Canceled:
		return errcode.Unavailable
	case gcerrors.Internal:
		return errcode.Internal
	}
	return errcode.Unknown
}

// GCErrorCode maps an error's Code onto gocloud's codes, for drivers'
// ErrorCode methods.
func GCErrorCode(err error) gcerrors.ErrorCode {
	switch CodeOf(err) {
	case errcode.InvalidArgument:
		return gcerrors.InvalidArgument
	case errcode.NotFound:
		return gcerrors.NotFound
	case errcode.FailedPrecondition:
		return gcerrors.FailedPrecondition
	case errcode.ResourceExhausted:
		return gcerrors.ResourceExhausted
	case errcode.Unavailable:
		return gcerrors.Unknown
	case errcode.Internal:
		return gcerrors.Internal
	}
	return gcerrors.Unknown
}
