package httpapi

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/spec"
)

// apiError is an error as the HTTP API reports it:
// {"error":{"code":…,"message":…,"fields":[…]}}.
type apiError struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []fieldIssue `json:"fields,omitempty"`
	status  int
	// bearerError is, with a 401, the RFC 6750 error code of the
	// credential sent ("invalid_token"), or "-" when none was sent.
	bearerError string
}

type fieldIssue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

// The HTTP statuses of the error codes, in one table.
var statusOf = map[errcode.Code]int{
	errcode.InvalidArgument:    http.StatusBadRequest,
	errcode.NotFound:           http.StatusNotFound,
	errcode.FailedPrecondition: http.StatusConflict,
	errcode.ResourceExhausted:  http.StatusTooManyRequests,
	errcode.Unavailable:        http.StatusServiceUnavailable,
	errcode.Internal:           http.StatusInternalServerError,
	errcode.Unknown:            http.StatusInternalServerError,
}

// Errors of the ingress that have no errcode.Code of their own.
const (
	codeTooLarge         = "too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeUnauthenticated  = "unauthenticated"
	codePermissionDenied = "permission_denied"
)

// toAPIError classifies err once, for any handler.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var denied *auth.Denied
	if errors.As(err, &denied) {
		return &apiError{Code: codePermissionDenied, Message: err.Error(), status: http.StatusForbidden}
	}
	var unauth *auth.Unauthenticated
	if errors.As(err, &unauth) {
		return &apiError{Code: codeUnauthenticated, Message: err.Error(), status: http.StatusUnauthorized, bearerError: cmp.Or(unauth.Code, "-")}
	}
	var fields []fieldIssue
	for _, e := range spec.Flatten(err) {
		var fe *spec.FieldError
		if errors.As(e, &fe) {
			fields = append(fields, fieldIssue{Path: fe.Path, Message: fe.Message})
		}
	}
	if len(fields) > 0 {
		return &apiError{Code: errcode.InvalidArgument.String(), Message: err.Error(), Fields: fields, status: http.StatusBadRequest}
	}
	code := errcode.Of(err)
	return &apiError{Code: code.String(), Message: err.Error(), status: statusOf[code]}
}

// fieldErrorf reports bad input in one CloudEvent attribute.
func fieldErrorf(field, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	ae := &apiError{Code: errcode.InvalidArgument.String(), Message: msg, status: http.StatusBadRequest}
	if field != "" {
		ae.Fields = []fieldIssue{{Path: field, Message: fmt.Sprintf(format, args...)}}
	}
	return ae
}
