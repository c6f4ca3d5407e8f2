package awsproto

import (
	"bytes"
	"encoding/json"
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

// WriteError writes err as AWS rest-json error: status code, headers
// x-amzn-ErrorType and x-amzn-RequestId, and a JSON body
// {"Code":..,"Message":..,["Context":..,] "Type":"Client"|"Server","__type":..}
// with __type last, so botocore, aws-sdk-go-v2 (old and new deserializers)
// and the AWS CLI all resolve the error's type. extra holds further modeled
// members (Context, CreatorRequestId, Arn...) to include, may be nil.
func WriteError(w http.ResponseWriter, requestID string, code string, status int, message string, extra map[string]string) {
	var b bytes.Buffer
	b.WriteString(`{"Code":`)
	writeJSONString(&b, code)
	b.WriteString(`,"Message":`)
	writeJSONString(&b, message)
	for _, k := range sortedKeys(extra) {
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
	enc, _ := json.Marshal(s)
	b.Write(enc)
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
