package awsproto

import (
	"bytes"
	"net/http"
	"strconv"
)

// Error is an error that carries its AWS wire identity. Modeled exceptions
// (generated in backupapi) and protocol-level errors (authentication,
// unknown operation, malformed body) all implement it, so that one function,
// WriteError, puts every error on the wire the same way.
type Error interface {
	error
	// ErrorCode is the AWS error name, e.g. "InvalidParameterValueException".
	ErrorCode() string
	// HTTPStatus is the response status code.
	HTTPStatus() int
}

// ProtocolError is an Error that is not a modeled exception of the service,
// such as "InvalidSignatureException" or "UnknownOperationException".
type ProtocolError struct {
	Code    string
	Status  int
	Message string
}

func (e *ProtocolError) Error() string     { return e.Code + ": " + e.Message }
func (e *ProtocolError) ErrorCode() string { return e.Code }
func (e *ProtocolError) HTTPStatus() int   { return e.Status }

// ErrorMessage implements Detailed.
func (e *ProtocolError) ErrorMessage() string { return e.Message }

// ErrorFields implements Detailed.
func (e *ProtocolError) ErrorFields() map[string]string { return nil }

// Detailed is implemented by errors that know their client-facing message
// and further modeled members, so WriteErrorValue can put them in the body.
type Detailed interface {
	// ErrorMessage is the body's Message.
	ErrorMessage() string
	// ErrorFields holds further string members for the body (Context,
	// Arn, CreatorRequestId, ...); nil or empty when there are none. A
	// "Code" entry replaces the body's Code (the x-amzn-ErrorType header
	// and __type still carry ErrorCode()).
	ErrorFields() map[string]string
}

// WriteErrorValue writes e with WriteError, taking message and extra
// members from Detailed when e implements it, else e.Error().
func WriteErrorValue(w http.ResponseWriter, requestID string, e Error) {
	msg := ""
	var extra map[string]string
	if d, ok := e.(Detailed); ok {
		msg = d.ErrorMessage()
		extra = d.ErrorFields()
	} else {
		msg = e.Error()
	}
	WriteError(w, requestID, e.ErrorCode(), e.HTTPStatus(), msg, extra)
}

// WriteError writes err as AWS rest-json error: status code, headers
// x-amzn-ErrorType and x-amzn-RequestId, and a JSON body
// {"Code":..,"Message":..,["Context":..,] "Type":"Client"|"Server","__type":..}
// with __type last, so botocore, aws-sdk-go-v2 (old and new deserializers)
// and the AWS CLI all resolve the error's type. extra holds further modeled
// members (Context, CreatorRequestId, Arn...) to include, may be nil; an
// extra "Code" replaces the body's Code (e.g. AWS's internal "ERROR_9101"),
// while the header and __type keep code; extra "Message", "Type" and
// "__type" are ignored.
func WriteError(w http.ResponseWriter, requestID string, code string, status int, message string, extra map[string]string) {
	var b bytes.Buffer
	bodyCode := code
	if c, ok := extra["Code"]; ok && c != "" {
		bodyCode = c
	}
	b.WriteString(`{"Code":`)
	writeJSONString(&b, bodyCode)
	b.WriteString(`,"Message":`)
	writeJSONString(&b, message)
	for _, k := range sortedKeys(extra) {
		switch k {
		case "Code", "Message", "Type", "__type", "":
			continue // fixed members, written once
		}
		b.WriteByte(',')
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, extra[k])
	}
	typ := "Client"
	if status >= 500 {
		typ = "Server"
	}
	b.WriteString(`,"Type":"` + typ + `","__type":`)
	writeJSONString(&b, code)
	b.WriteString("}")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", code)
	if requestID != "" {
		h.Set("X-Amzn-Requestid", requestID)
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeJSONString(b *bytes.Buffer, s string) {
	b.Write(AppendString(b.AvailableBuffer(), s))
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// insertion sort: a handful of keys at most
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
