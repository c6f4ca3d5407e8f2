package service

import (
	"errors"
	"net/http"

	"github.com/coffer/coffer/internal/api/awsproto"
	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
)

// apiError is the one translation table from domain errors to what an API
// caller sees. Every Service method returns its errors through it.
//
//	backup Kind            modeled exception (HTTP status)
//	NotFound               ResourceNotFoundException (400)
//	AlreadyExists          AlreadyExistsException (400), with Arn and CreatorRequestId
//	InvalidParameter       InvalidParameterValueException (400)
//	MissingParameter       MissingParameterValueException (400)
//	InvalidRequest         InvalidRequestException (400)
//	Conflict               ConflictException (400)
//	LimitExceeded          LimitExceededException (400)
//	InvalidResourceState   InvalidResourceStateException (400)
//	Unavailable            ServiceUnavailableException (500)
//	DependencyFailure      DependencyFailureException (500)
//	NotImplemented         NotImplementedException (501)
//	Internal, or no Kind   unchanged: the handler logs it and answers 500
//	                       InternalFailure without its text
//
// The Message and Context of the domain error become the exception's.
// Errors that already are AWS errors (awsproto.Error) pass unchanged.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var ae awsproto.Error
	if errors.As(err, &ae) {
		return ae
	}
	var e *backup.Error
	if !errors.As(err, &e) {
		return err
	}
	msg, ctx := e.Message, e.Context
	switch e.Kind {
	case backup.KindNotFound:
		return &backupapi.ResourceNotFoundException{Message: msg, Context: ctx}
	case backup.KindAlreadyExists:
		return &backupapi.AlreadyExistsException{Message: msg, Context: ctx, Arn: e.Arn, CreatorRequestId: e.CreatorRequestID}
	case backup.KindInvalidParameter:
		return &backupapi.InvalidParameterValueException{Message: msg, Context: ctx}
	case backup.KindMissingParameter:
		return &backupapi.MissingParameterValueException{Message: msg, Context: ctx}
	case backup.KindInvalidRequest:
		return &backupapi.InvalidRequestException{Message: msg, Context: ctx}
	case backup.KindConflict:
		return &backupapi.ConflictException{Message: msg, Context: ctx}
	case backup.KindLimitExceeded:
		return &backupapi.LimitExceededException{Message: msg, Context: ctx}
	case backup.KindInvalidResourceState:
		return &backupapi.InvalidResourceStateException{Message: msg, Context: ctx}
	case backup.KindUnavailable:
		return &backupapi.ServiceUnavailableException{Message: msg, Context: ctx}
	case backup.KindDependencyFailure:
		return &backupapi.DependencyFailureException{Message: msg, Context: ctx}
	case backup.KindNotImplemented:
		return &awsproto.ProtocolError{Code: "NotImplementedException", Status: http.StatusNotImplemented, Message: msg}
	}
	return err
}
