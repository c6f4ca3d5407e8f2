package awsproto

import (
	"strconv"
	"strings"
)

// ErrorKind classifies a FieldError.
type ErrorKind uint8

const (
	// KindSerialization: the request could not be decoded (malformed JSON,
	// wrong JSON type, unparsable number or timestamp in the query or a
	// header). On the wire: 400 SerializationException.
	KindSerialization ErrorKind = iota
	// KindMissing: a required member is absent.
	KindMissing
	// KindInvalid: a member violates a length, range, pattern or enum
	// constraint.
	KindInvalid
)

// FieldError is a decoding or validation failure of one member. Errors are
// created at the member where the failure happened and gain their path on
// the way out (AtMember, AtIndex, AtKey), so successful decoding and
// validation never build paths.
type FieldError struct {
	Kind ErrorKind
	// Detail describes the failure without the path, e.g.
	// `must match pattern ^[a-z]+$`.
	Detail string
	// Value is the offending value as it may be shown (already quoted or
	// formatted), or "" when it must not be shown (sensitive members,
	// lists, maps).
	Value string
	segs  []pathSeg // innermost first
}

type pathSeg struct {
	name  string // member name, or map key when isKey
	index int    // list index when name == "" && !isKey
	isKey bool
}

// Path renders the member path, outermost first:
// BackupPlan.Rules[0].RuleName, Metadata["k"].
func (e *FieldError) Path() string {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		switch {
		case s.isKey:
			b.WriteByte('[')
			b.WriteString(s.name)
			b.WriteByte(']')
		case s.name == "":
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		}
	}
	return b.String()
}

// Message is the client-facing message for the error.
func (e *FieldError) Message() string {
	p := e.Path()
	switch e.Kind {
	case KindMissing:
		return "Missing required parameter: " + p
	case KindInvalid:
		if e.Value != "" {
			return "Invalid value " + e.Value + " for " + p + ": " + e.Detail
		}
		return "Invalid value for " + p + ": " + e.Detail
	default:
		if p == "" {
			return "Cannot deserialize request: " + e.Detail
		}
		return "Cannot deserialize " + p + ": " + e.Detail
	}
}

func (e *FieldError) Error() string { return e.Message() }

// ErrorCode implements Error for serialization failures; validation
// failures are turned into modeled exceptions by generated code.
func (e *FieldError) ErrorCode() string {
	switch e.Kind {
	case KindMissing:
		return "MissingParameterValueException"
	case KindInvalid:
		return "InvalidParameterValueException"
	}
	return "SerializationException"
}

// HTTPStatus implements Error.
func (e *FieldError) HTTPStatus() int { return 400 }

// ErrorMessage implements Detailed.
func (e *FieldError) ErrorMessage() string { return e.Message() }

// ErrorFields implements Detailed.
func (e *FieldError) ErrorFields() map[string]string { return nil }

// AtMember prefixes a *FieldError's path with a member name; other errors
// are returned unchanged.
func AtMember(err error, name string) error {
	if fe, ok := err.(*FieldError); ok {
		fe.segs = append(fe.segs, pathSeg{name: name})
	}
	return err
}

// AtIndex prefixes a *FieldError's path with a list index.
func AtIndex(err error, i int) error {
	if fe, ok := err.(*FieldError); ok {
		fe.segs = append(fe.segs, pathSeg{index: i})
	}
	return err
}

// AtKey prefixes a *FieldError's path with a map key; the key is shown
// quoted, or as "*" when sensitive.
func AtKey(err error, key string, sensitive bool) error {
	if fe, ok := err.(*FieldError); ok {
		k := "*"
		if !sensitive {
			k = strconv.Quote(key)
		}
		fe.segs = append(fe.segs, pathSeg{name: k, isKey: true})
	}
	return err
}

// SerializationError is a decoding failure of member (may be "" for the
// whole request).
func SerializationError(member, detail string) error {
	e := &FieldError{Kind: KindSerialization, Detail: detail}
	if member != "" {
		e.segs = append(e.segs, pathSeg{name: member})
	}
	return e
}

// MissingError reports that required member name is absent.
func MissingError(name string) error {
	return &FieldError{Kind: KindMissing, segs: []pathSeg{{name: name}}}
}

// InvalidError reports that member name's value violates a constraint.
// value is the shown form of the value ("" to hide it).
func InvalidError(name, value, detail string) error {
	e := &FieldError{Kind: KindInvalid, Value: value, Detail: detail}
	if name != "" {
		e.segs = append(e.segs, pathSeg{name: name})
	}
	return e
}
