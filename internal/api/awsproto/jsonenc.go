package awsproto

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD; <, > and & are escaped as encoding/json does, and so are U+2028
// and U+2029.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendBool appends true or false.
func AppendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// AppendInt appends an integer.
func AppendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// AppendFloat appends a float; NaN and infinities are written as the
// strings AWS JSON protocols use.
func AppendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// AppendTimestamp appends a body timestamp as epoch seconds with
// millisecond precision.
func AppendTimestamp(b []byte, t time.Time) []byte { return AppendEpochSeconds(b, t) }

// AppendTimestampFormatted appends a body timestamp in the named
// timestampFormat.
func AppendTimestampFormatted(b []byte, t time.Time, format string) []byte {
	switch format {
	case FormatISO:
		return AppendString(b, FormatISO8601(t))
	case FormatRFC822:
		return AppendString(b, FormatHTTPDate(t))
	}
	return AppendEpochSeconds(b, t)
}

// AppendRaw appends a document value; an empty or invalid one is written as
// null so the response stays well-formed.
func AppendRaw(b []byte, v json.RawMessage) []byte {
	if len(v) == 0 || !json.Valid(v) {
		return append(b, "null"...)
	}
	return append(b, v...)
}

// CloseObject ends an object whose members were each appended with a
// trailing comma: it replaces the last comma with '}', or appends '}' when
// the object is empty (b ends with '{').
func CloseObject(b []byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = '}'
		return b
	}
	return append(b, '}')
}

// CloseArray is CloseObject for arrays.
func CloseArray(b []byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = ']'
		return b
	}
	return append(b, ']')
}
