// Package awsproto is the hand-written rest-json runtime that the generated
// API layer (package backupapi) uses. It knows the AWS wire protocol, not
// the Backup service.
//
// Vocabulary:
//
//   - Error: an error with its AWS identity (ErrorCode, HTTPStatus);
//     Detailed adds the body's Message and extra members. WriteError and
//     WriteErrorValue put any Error on the wire as a rest-json error
//     (x-amzn-ErrorType header, {"Code","Message",...,"Type","__type"}
//     body). ProtocolError is an Error that is not a modeled exception
//     (UnknownOperationException, NotImplementedException, ...).
//   - Route / Router: an operation's method and request URI template, and
//     the matcher over raw escaped paths (labels stay percent-encoded until
//     the binder decodes them; literals beat labels; trailing slash
//     optional; "?literal" query constraints honoured).
//   - Decoder: a pull parser over a JSON body that generated code walks
//     member by member without reflection; the Append* functions are its
//     encoding counterpart.
//   - FieldError: a decoding failure (SerializationException) or a
//     validation failure (missing / invalid member) of one member, which
//     gains its path (BackupPlan.Rules[0].RuleName) on the way out.
//   - Handler: serves an Operation table: routing, body limit, request ID,
//     CallInfo in the context, error mapping (non-AWS errors and panics
//     become 500 InternalFailure, logged, never leaked).
//   - Timestamps: epoch seconds in JSON bodies, ISO-8601 in query strings,
//     HTTP dates in headers, unless the model's timestampFormat says
//     otherwise; parsers are lenient, formatters exact.
package awsproto
