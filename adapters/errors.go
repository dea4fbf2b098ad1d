package adapters

import (
	"context"
	"errors"
	"fmt"

	"gocloud.dev/gcerrors"
)

// Code classifies an error by what the caller should do about it.
type Code int

// The codes, from the caller's point of view.
const (
	// Unknown is an error nobody classified: treat as Internal.
	Unknown Code = iota
	// InvalidArgument: the request is wrong and retrying it will not help.
	InvalidArgument
	// NotFound: the named channel or resource does not exist.
	NotFound
	// FailedPrecondition: the system is not in a state to do this (for
	// example a subscription that was shut down).
	FailedPrecondition
	// ResourceExhausted: a limit is reached; retry later.
	ResourceExhausted
	// Unavailable: the backend cannot be reached; retry later.
	Unavailable
	// Internal: a bug or an unexpected failure.
	Internal
)

var codeNames = [...]string{"unknown", "invalid_argument", "not_found", "failed_precondition", "resource_exhausted", "unavailable", "internal"}

func (c Code) String() string {
	if c < 0 || int(c) >= len(codeNames) {
		return fmt.Sprintf("code(%d)", int(c))
	}
	return codeNames[c]
}

// Error is an error with a Code.
type Error struct {
	Code Code
	// Message is the whole message, the cause's text included.
	Message string
	Err     error // the cause, if any, for errors.Is and errors.As
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message; a %w verb
// records the cause.
func Errorf(code Code, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// CodeOf classifies err: the Code of the first *Error in its chain, else the
// code gocloud's pubsub attached to it, else Unknown.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Unavailable
	}
	switch gcerrors.Code(err) {
	case gcerrors.InvalidArgument:
		return InvalidArgument
	case gcerrors.NotFound:
		return NotFound
	case gcerrors.FailedPrecondition:
		return FailedPrecondition
	case gcerrors.ResourceExhausted:
		return ResourceExhausted
	case gcerrors.DeadlineExceeded, gcerrors.Canceled:
		return Unavailable
	case gcerrors.Internal:
		return Internal
	}
	return Unknown
}

// GCErrorCode maps a Code onto gocloud's codes, for drivers' ErrorCode methods.
func GCErrorCode(err error) gcerrors.ErrorCode {
	switch CodeOf(err) {
	case InvalidArgument:
		return gcerrors.InvalidArgument
	case NotFound:
		return gcerrors.NotFound
	case FailedPrecondition:
		return gcerrors.FailedPrecondition
	case ResourceExhausted:
		return gcerrors.ResourceExhausted
	case Unavailable:
		return gcerrors.Unknown
	case Internal:
		return gcerrors.Internal
	}
	return gcerrors.Unknown
}
