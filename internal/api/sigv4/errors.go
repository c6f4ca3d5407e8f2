package sigv4

import (
	"net/http"

	"github.com/coffer/coffer/internal/api/awsproto"
)

// Error codes Verify returns, as *awsproto.ProtocolError. The names and
// statuses are the ones AWS JSON services send for the same conditions
// (AWS "Common Errors" and captured responses):
//
//	condition                                             code                                  status
//	no Authorization header and no X-Amz-* query auth      MissingAuthenticationTokenException   403
//	both header and query auth                            IncompleteSignatureException          400
//	malformed Authorization / presign query: algorithm,   IncompleteSignatureException          400
//	  missing Credential / SignedHeaders / Signature,
//	  scope not key/date/region/service/aws4_request,
//	  SignedHeaders without host or x-amz-date/date,
//	  no or unparsable date, bad X-Amz-Expires
//	unknown access key id                                 UnrecognizedClientException           403
//	signature mismatch                                    InvalidSignatureException             403
//	request time outside ±MaxSkew, presign expired        InvalidSignatureException             403
//	scope date != request date, scope service != backup,  InvalidSignatureException             403
//	  scope region not served by this endpoint
//	x-amz-content-sha256 not the body's hash, or          InvalidSignatureException             403
//	  UNSIGNED-PAYLOAD / STREAMING-* (not accepted)
//	query string with bad %-escapes or a ';' separator    MalformedQueryStringException         400
//
// A region the endpoint does not serve is reported as InvalidSignatureException
// (what AWS answers for a scope naming the wrong region) with a message that
// names the region and lists the served ones; SDKs do not retry it.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeMalformedQueryString       = "MalformedQueryStringException"
)

// Messages AWS uses verbatim.
const (
	msgMissingToken      = "Missing Authentication Token"
	msgUnrecognized      = "The security token included in the request is invalid."
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

func errMissing() error {
	return &awsproto.ProtocolError{Code: CodeMissingAuthenticationToken, Status: http.StatusForbidden, Message: msgMissingToken}
}

func errIncomplete(msg string) error {
	return &awsproto.ProtocolError{Code: CodeIncompleteSignature, Status: http.StatusBadRequest, Message: msg}
}

func errUnrecognized() error {
	return &awsproto.ProtocolError{Code: CodeUnrecognizedClient, Status: http.StatusForbidden, Message: msgUnrecognized}
}

func errInvalid(msg string) error {
	return &awsproto.ProtocolError{Code: CodeInvalidSignature, Status: http.StatusForbidden, Message: msg}
}

func errMalformedQuery(msg string) error {
	return &awsproto.ProtocolError{Code: CodeMalformedQueryString, Status: http.StatusBadRequest, Message: msg}
}
