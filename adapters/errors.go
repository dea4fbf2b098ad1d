package adapters

import (
	"gocloud.dev/gcerrors"

	"github.com/eventbus-go/eventbus/errcode"
)

// DriverDefaults answers the methods of driver.Topic and
// driver.Subscription that every eventbus driver answers the same way. A
// driver's topic and subscription embed it and write only what differs.
//
// Drivers return errors made with errcode.Errorf, so a Backend passes them
// on as they are; ErrorCode reports those codes in gocloud's terms to
// anything that drives the driver through gocloud's portable types.
type DriverDefaults struct{}

// IsRetryable is false: the bus, not the driver, decides about retries.
func (DriverDefaults) IsRetryable(error) bool { return false }

// As exposes no driver-specific types.
func (DriverDefaults) As(any) bool { return false }

// ErrorAs exposes no driver-specific error types.
func (DriverDefaults) ErrorAs(error, any) bool { return false }

// ErrorCode maps the error's errcode.Code onto gocloud's codes.
func (DriverDefaults) ErrorCode(err error) gcerrors.ErrorCode {
	switch errcode.Of(err) {
	case errcode.InvalidArgument:
		return gcerrors.InvalidArgument
	case errcode.NotFound:
		return gcerrors.NotFound
	case errcode.FailedPrecondition:
		return gcerrors.FailedPrecondition
	case errcode.ResourceExhausted:
		return gcerrors.ResourceExhausted
	case errcode.Internal:
		return gcerrors.Internal
	}
	return gcerrors.Unknown
}

// classify is the one place a driver's error gets its errcode.Code: an
// error that carries one keeps it; any other is classified by the driver's
// ErrorCode.
func classify(err error, errorCode func(error) gcerrors.ErrorCode) error {
	if err == nil || errcode.Of(err) != errcode.Unknown {
		return err
	}
	code := errcode.Unknown
	switch errorCode(err) {
	case gcerrors.InvalidArgument:
		code = errcode.InvalidArgument
	case gcerrors.NotFound:
		code = errcode.NotFound
	case gcerrors.FailedPrecondition:
		code = errcode.FailedPrecondition
	case gcerrors.ResourceExhausted:
		code = errcode.ResourceExhausted
	case gcerrors.DeadlineExceeded, gcerrors.Canceled:
		code = errcode.Unavailable
	case gcerrors.Internal:
		code = errcode.Internal
	}
	return errcode.Errorf(code, "%w", err)
}
