package backup

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a domain error. The API layer maps each Kind to one
// modeled AWS exception through a single table; nothing else about an error
// decides what the client sees.
type Kind int

// Error kinds. The comment names the AWS exception the API layer is expected
// to map the kind to.
const (
	// KindInternal: not a domain error (a bug, an I/O failure). Maps to a
	// 500 ServiceUnavailableException or InternalFailure. The zero Kind.
	KindInternal Kind = iota
	// KindNotFound: the named vault, recovery point, job or resource does
	// not exist. ResourceNotFoundException.
	KindNotFound
	// KindAlreadyExists: a vault (or other named thing) with that name
	// exists. AlreadyExistsException; Error.Arn and Error.CreatorRequestID
	// describe the existing one.
	KindAlreadyExists
	// KindInvalidParameter: a value is malformed or out of range.
	// InvalidParameterValueException.
	KindInvalidParameter
	// KindMissingParameter: a required value is missing or empty.
	// MissingParameterValueException.
	KindMissingParameter
	// KindInvalidRequest: the request is well formed but not allowed in the
	// current state (non-empty vault, locked configuration, same source and
	// destination). InvalidRequestException.
	KindInvalidRequest
	// KindConflict: another action on the same thing must finish first, or
	// an optimistic check failed (a lease was lost). ConflictException.
	KindConflict
	// KindLimitExceeded: a quota would be exceeded. LimitExceededException.
	KindLimitExceeded
	// KindInvalidResourceState: an action is already running on the
	// recovery point. InvalidResourceStateException.
	KindInvalidResourceState
	// KindUnavailable: a dependency (storage, database) cannot be reached
	// right now; retrying may succeed. ServiceUnavailableException.
	KindUnavailable
	// KindDependencyFailure: a dependency failed in a way that is not the
	// caller's fault. DependencyFailureException.
	KindDependencyFailure
	// KindNotImplemented: Coffer does not implement this (yet). The API layer
	// answers HTTP 501 naming the feature.
	KindNotImplemented
)

var kindNames = [...]string{
	KindInternal:             "Internal",
	KindNotFound:             "NotFound",
	KindAlreadyExists:        "AlreadyExists",
	KindInvalidParameter:     "InvalidParameter",
	KindMissingParameter:     "MissingParameter",
	KindInvalidRequest:       "InvalidRequest",
	KindConflict:             "Conflict",
	KindLimitExceeded:        "LimitExceeded",
	KindInvalidResourceState: "InvalidResourceState",
	KindUnavailable:          "Unavailable",
	KindDependencyFailure:    "DependencyFailure",
	KindNotImplemented:       "NotImplemented",
}

// String returns the kind's name, such as "NotFound".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a domain error: a Kind, a message meant for the API caller, and
// optional modeled members. Use errors.As to get at it, KindOf to classify
// any error, and errors.Is(err, backup.ErrNotFound) (or any other Err*
// sentinel below) to test the kind.
type Error struct {
	Kind Kind
	// Message is shown to the API caller as the exception's Message. It must
	// not contain secrets or internal details (paths, SQL).
	Message string
	// Context is the modeled Context member, e.g. the number of recovery
	// points that keep a vault from being deleted. Optional.
	Context string
	// Arn and CreatorRequestID are AlreadyExistsException's extra members:
	// the existing resource. Optional.
	Arn              string
	CreatorRequestID string
	// Err is the underlying cause, for logs and errors.Is/As; never shown to
	// the API caller.
	Err error
}

// Error returns "Kind: Message" followed by the cause, if any.
func (e *Error) Error() string {
	s := e.Kind.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		if c := e.Err.Error(); !strings.Contains(e.Message, c) {
			s += ": " + c
		}
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is a kind sentinel (an *Error with no message,
// such as ErrNotFound) of the same Kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Message != "" || t.Err != nil {
		return false
	}
	return t.Kind == e.Kind
}

// Kind sentinels for errors.Is. They carry no message; never return them
// directly, return a *Error with a message (Errorf and friends).
var (
	ErrNotFound             = &Error{Kind: KindNotFound}
	ErrAlreadyExists        = &Error{Kind: KindAlreadyExists}
	ErrInvalidParameter     = &Error{Kind: KindInvalidParameter}
	ErrMissingParameter     = &Error{Kind: KindMissingParameter}
	ErrInvalidRequest       = &Error{Kind: KindInvalidRequest}
	ErrConflict             = &Error{Kind: KindConflict}
	ErrLimitExceeded        = &Error{Kind: KindLimitExceeded}
	ErrInvalidResourceState = &Error{Kind: KindInvalidResourceState}
	ErrUnavailable          = &Error{Kind: KindUnavailable}
	ErrDependencyFailure    = &Error{Kind: KindDependencyFailure}
	ErrNotImplemented       = &Error{Kind: KindNotImplemented}
)

// Errorf returns a *Error of the given kind with a formatted message. A %w
// verb in format sets Err as well (the message then includes the cause's
// text, so use %w only with causes safe to show to callers). To keep a cause
// out of the message, build the Error literally with Err set.
func Errorf(kind Kind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), Err: errors.Unwrap(err)}
}

// NotFoundf returns a KindNotFound error.
func NotFoundf(format string, args ...any) *Error { return Errorf(KindNotFound, format, args...) }

// InvalidParameterf returns a KindInvalidParameter error.
func InvalidParameterf(format string, args ...any) *Error {
	return Errorf(KindInvalidParameter, format, args...)
}

// MissingParameterf returns a KindMissingParameter error.
func MissingParameterf(format string, args ...any) *Error {
	return Errorf(KindMissingParameter, format, args...)
}

// InvalidRequestf returns a KindInvalidRequest error.
func InvalidRequestf(format string, args ...any) *Error {
	return Errorf(KindInvalidRequest, format, args...)
}

// Conflictf returns a KindConflict error.
func Conflictf(format string, args ...any) *Error { return Errorf(KindConflict, format, args...) }

// LimitExceededf returns a KindLimitExceeded error.
func LimitExceededf(format string, args ...any) *Error {
	return Errorf(KindLimitExceeded, format, args...)
}

// NotImplementedf returns a KindNotImplemented error.
func NotImplementedf(format string, args ...any) *Error {
	return Errorf(KindNotImplemented, format, args...)
}

// KindOf returns the Kind of the first *Error in err's chain, or
// KindInternal when there is none (including err == nil; callers check nil
// first).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ForField rewrites a KindInvalidParameter or KindMissingParameter error so
// that its message names the request member it came from:
// "Invalid value for IamRoleArn: ...". Other errors are returned unchanged.
func ForField(field string, err error) error {
	var e *Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case KindInvalidParameter:
		c := *e
		c.Message = "Invalid value for " + field + ": " + e.Message
		return &c
	case KindMissingParameter:
		c := *e
		c.Message = "Missing value for " + field + ": " + e.Message
		return &c
	}
	return err
}
