// Package errcode is eventbus's one classification of errors by what the
// caller should do about them (fix the request, wait and retry, look for a
// bug), in the manner of gocloud's gcerrors.
//
// Any package that fails on behalf of a caller returns an error made by
// Errorf; whoever answers the caller reads it back with Of. The HTTP layer
// maps each Code to a status in one table (bus/httpapi/errors.go), and
// nothing below it knows about statuses. A backend driver's errors get
// their Code in adapters.Backend, the one place that reads a driver's
// ErrorCode.
//
// It is a leaf, importing only the standard library, so the parts of the
// bus that never touch a backend need not import adapters to fail well.
package errcode

import (
	"context"
	"errors"
	"fmt"
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

// String is the code as the HTTP API writes it ("invalid_argument").
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

// Of classifies err: the Code of the first *Error in its chain;
// Unavailable for a context that ended (the caller may try again);
// otherwise Unknown.
func Of(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Unavailable
	}
	return Unknown
}
