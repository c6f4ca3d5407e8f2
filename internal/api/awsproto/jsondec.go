package awsproto

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxJSONDepth bounds the nesting of arrays and objects a Decoder accepts,
// so that hostile input cannot exhaust the stack.
const MaxJSONDepth = 512

// Decoder is a pull parser over one complete JSON document held in memory.
// Generated code walks it member by member: BeginObject / NextKey for
// objects, BeginArray / NextElem for arrays, and a typed read (String,
// Int32, Timestamp, ...) or Skip for each value. Reads never allocate except
// for the strings and raw values they return.
//
// Errors are *FieldError values of kind KindSerialization; generated code
// prefixes them with the member path (AtMember, AtIndex, AtKey).
type Decoder struct {
	data  []byte
	pos   int
	depth int
	buf   []byte // scratch for unescaping keys
}

// Reset makes d read data from its start.
func (d *Decoder) Reset(data []byte) {
	d.data = data
	d.pos = 0
	d.depth = 0
}

func (d *Decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end of input.
func (d *Decoder) peek() byte {
	d.skipWS()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// AtEnd reports whether only white space remains.
func (d *Decoder) AtEnd() bool {
	d.skipWS()
	return d.pos >= len(d.data)
}

// Empty reports whether the document is empty or only white space.
func (d *Decoder) Empty() bool {
	for _, c := range d.data {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

func (d *Decoder) syntaxErr(msg string) error {
	return &FieldError{Kind: KindSerialization, Detail: fmt.Sprintf("malformed JSON at offset %d: %s", d.pos, msg)}
}

func (d *Decoder) typeErr(want string) error {
	got := "end of input"
	switch d.peek() {
	case '{':
		got = "object"
	case '[':
		got = "array"
	case '"':
		got = "string"
	case 't', 'f':
		got = "boolean"
	case 'n':
		got = "null"
	case 0:
	default:
		got = "number"
	}
	return &FieldError{Kind: KindSerialization, Detail: "expected " + want + ", got " + got}
}

// Null consumes a null literal and reports true, or reports false and
// consumes nothing.
func (d *Decoder) Null() bool {
	if d.peek() == 'n' && d.pos+4 <= len(d.data) && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

// BeginObject consumes the '{' that starts an object.
func (d *Decoder) BeginObject() error {
	if d.peek() != '{' {
		return d.typeErr("object")
	}
	if d.depth >= MaxJSONDepth {
		return d.syntaxErr("nesting too deep")
	}
	d.depth++
	d.pos++
	return nil
}

// NextKey advances to the next member of the object begun by BeginObject
// and returns its key; first must be true on the first call for an object.
// It returns ok=false after consuming the closing '}'. The returned key
// aliases the decoder's buffers and is valid until the next call.
func (d *Decoder) NextKey(first bool) (key []byte, ok bool, err error) {
	c := d.peek()
	if c == '}' {
		d.pos++
		d.depth--
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, d.syntaxErr("expected ',' or '}' in object")
		}
		d.pos++
		c = d.peek()
	}
	if c != '"' {
		return nil, false, d.syntaxErr("expected string key in object")
	}
	key, err = d.readStringBytes()
	if err != nil {
		return nil, false, err
	}
	if d.peek() != ':' {
		return nil, false, d.syntaxErr("expected ':' after object key")
	}
	d.pos++
	return key, true, nil
}

// BeginArray consumes the '[' that starts an array.
func (d *Decoder) BeginArray() error {
	if d.peek() != '[' {
		return d.typeErr("array")
	}
	if d.depth >= MaxJSONDepth {
		return d.syntaxErr("nesting too deep")
	}
	d.depth++
	d.pos++
	return nil
}

// NextElem reports whether another element follows in the array begun by
// BeginArray; first must be true on the first call for an array. It returns
// false after consuming the closing ']'.
func (d *Decoder) NextElem(first bool) (bool, error) {
	c := d.peek()
	if c == ']' {
		d.pos++
		d.depth--
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, d.syntaxErr("expected ',' or ']' in array")
		}
		d.pos++
		if d.peek() == ']' {
			return false, d.syntaxErr("trailing ',' in array")
		}
	}
	if d.peek() == 0 {
		return false, d.syntaxErr("unterminated array")
	}
	return true, nil
}

// readStringBytes reads a JSON string. Without escapes the result aliases
// the input; otherwise it is unescaped into d.buf.
func (d *Decoder) readStringBytes() ([]byte, error) {
	// d.data[d.pos] == '"'
	start := d.pos + 1
	i := start
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			s := d.data[start:i]
			if !utf8.Valid(s) {
				return d.fixUTF8(s), nil
			}
			return s, nil
		case c == '\\':
			return d.readEscaped(start)
		case c < 0x20:
			d.pos = i
			return nil, d.syntaxErr("control character in string")
		}
		i++
	}
	d.pos = i
	return nil, d.syntaxErr("unterminated string")
}

// fixUTF8 replaces invalid UTF-8 with U+FFFD, as encoding/json does.
func (d *Decoder) fixUTF8(s []byte) []byte {
	d.buf = d.buf[:0]
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		d.buf = utf8.AppendRune(d.buf, r)
		s = s[n:]
	}
	return d.buf
}

func (d *Decoder) readEscaped(start int) ([]byte, error) {
	d.buf = d.buf[:0]
	i := start
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			if !utf8.Valid(d.buf) {
				tmp := append([]byte(nil), d.buf...)
				return d.fixUTF8(tmp), nil
			}
			return d.buf, nil
		case c < 0x20:
			d.pos = i
			return nil, d.syntaxErr("control character in string")
		case c != '\\':
			d.buf = append(d.buf, c)
			i++
			continue
		}
		// escape sequence
		if i+1 >= len(d.data) {
			d.pos = i
			return nil, d.syntaxErr("unterminated escape")
		}
		e := d.data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			d.buf = append(d.buf, e)
		case 'b':
			d.buf = append(d.buf, '\b')
		case 'f':
			d.buf = append(d.buf, '\f')
		case 'n':
			d.buf = append(d.buf, '\n')
		case 'r':
			d.buf = append(d.buf, '\r')
		case 't':
			d.buf = append(d.buf, '\t')
		case 'u':
			r, ok := hex4(d.data, i)
			if !ok {
				d.pos = i
				return nil, d.syntaxErr("bad \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+6 <= len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
					r2, ok2 = hex4(d.data, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			d.buf = utf8.AppendRune(d.buf, r)
		default:
			d.pos = i - 1
			return nil, d.syntaxErr("bad escape character")
		}
	}
	d.pos = i
	return nil, d.syntaxErr("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// String reads a JSON string.
func (d *Decoder) String() (string, error) {
	if d.peek() != '"' {
		return "", d.typeErr("string")
	}
	b, err := d.readStringBytes()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// StringPtr reads a JSON string or null (nil).
func (d *Decoder) StringPtr() (*string, error) {
	if d.Null() {
		return nil, nil
	}
	s, err := d.String()
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// Bool reads true or false.
func (d *Decoder) Bool() (bool, error) {
	switch d.peek() {
	case 't':
		if d.pos+4 <= len(d.data) && string(d.data[d.pos:d.pos+4]) == "true" {
			d.pos += 4
			return true, nil
		}
	case 'f':
		if d.pos+5 <= len(d.data) && string(d.data[d.pos:d.pos+5]) == "false" {
			d.pos += 5
			return false, nil
		}
	default:
		return false, d.typeErr("boolean")
	}
	return false, d.syntaxErr("invalid literal")
}

// BoolPtr reads a boolean or null (nil).
func (d *Decoder) BoolPtr() (*bool, error) {
	if d.Null() {
		return nil, nil
	}
	v, err := d.Bool()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// number scans a JSON number and returns its literal; isInt reports that
// it has neither fraction nor exponent.
func (d *Decoder) number() (lit []byte, isInt bool, err error) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return nil, false, d.typeErr("number")
	}
	start := d.pos
	i := d.pos
	if d.data[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(d.data) && d.data[i] == '0' {
		i++
	} else if digits() == 0 {
		d.pos = i
		return nil, false, d.syntaxErr("invalid number")
	}
	isInt = true
	if i < len(d.data) && d.data[i] == '.' {
		i++
		isInt = false
		if digits() == 0 {
			d.pos = i
			return nil, false, d.syntaxErr("invalid number")
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		isInt = false
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.pos = i
			return nil, false, d.syntaxErr("invalid number")
		}
	}
	d.pos = i
	return d.data[start:i], isInt, nil
}

func (d *Decoder) integer(bits int) (int64, error) {
	lit, isInt, err := d.number()
	if err != nil {
		return 0, err
	}
	if isInt {
		v, perr := strconv.ParseInt(string(lit), 10, bits)
		if perr != nil {
			return 0, &FieldError{Kind: KindSerialization, Detail: fmt.Sprintf("number %s out of range for a %d-bit integer", lit, bits)}
		}
		return v, nil
	}
	f, perr := strconv.ParseFloat(string(lit), 64)
	if perr != nil || f != math.Trunc(f) || math.Abs(f) >= math.Ldexp(1, bits-1) {
		return 0, &FieldError{Kind: KindSerialization, Detail: fmt.Sprintf("number %s is not a %d-bit integer", lit, bits)}
	}
	return int64(f), nil
}

// Int32 reads a JSON number that is an integer in the int32 range.
func (d *Decoder) Int32() (int32, error) {
	v, err := d.integer(32)
	return int32(v), err
}

// Int32Ptr reads an int32 or null (nil).
func (d *Decoder) Int32Ptr() (*int32, error) {
	if d.Null() {
		return nil, nil
	}
	v, err := d.Int32()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Int64 reads a JSON number that is an integer in the int64 range.
func (d *Decoder) Int64() (int64, error) { return d.integer(64) }

// Int64Ptr reads an int64 or null (nil).
func (d *Decoder) Int64Ptr() (*int64, error) {
	if d.Null() {
		return nil, nil
	}
	v, err := d.Int64()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Float64 reads a JSON number. The strings "NaN", "Infinity" and
// "-Infinity" are accepted as AWS JSON protocols allow.
func (d *Decoder) Float64() (float64, error) {
	if d.peek() == '"' {
		s, err := d.String()
		if err != nil {
			return 0, err
		}
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, &FieldError{Kind: KindSerialization, Detail: fmt.Sprintf("expected number, got string %q", s)}
	}
	lit, _, err := d.number()
	if err != nil {
		return 0, err
	}
	f, perr := strconv.ParseFloat(string(lit), 64)
	if perr != nil {
		return 0, &FieldError{Kind: KindSerialization, Detail: fmt.Sprintf("number %s out of range", lit)}
	}
	return f, nil
}

// Float64Ptr reads a float64 or null (nil).
func (d *Decoder) Float64Ptr() (*float64, error) {
	if d.Null() {
		return nil, nil
	}
	v, err := d.Float64()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Timestamp reads a body timestamp: epoch seconds as a JSON number,
// possibly fractional (the rest-json default), or, to be lenient, a string
// holding an ISO-8601 date-time or epoch seconds.
func (d *Decoder) Timestamp() (time.Time, error) {
	if d.peek() == '"' {
		s, err := d.String()
		if err != nil {
			return time.Time{}, err
		}
		t, perr := ParseTimestamp(s)
		if perr != nil {
			return time.Time{}, &FieldError{Kind: KindSerialization, Detail: perr.Error()}
		}
		return t, nil
	}
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return time.Time{}, d.typeErr("timestamp (epoch seconds)")
	}
	lit, _, err := d.number()
	if err != nil {
		return time.Time{}, err
	}
	t, perr := ParseEpochSeconds(string(lit))
	if perr != nil {
		return time.Time{}, &FieldError{Kind: KindSerialization, Detail: perr.Error()}
	}
	return t, nil
}

// TimestampPtr reads a timestamp or null (nil).
func (d *Decoder) TimestampPtr() (*time.Time, error) {
	if d.Null() {
		return nil, nil
	}
	t, err := d.Timestamp()
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// TimestampFormatted reads a body timestamp in a format named by the
// model's timestampFormat trait ("unixTimestamp", "iso8601", "rfc822").
func (d *Decoder) TimestampFormatted(format string) (time.Time, error) {
	if format == "" || format == "unixTimestamp" {
		return d.Timestamp()
	}
	s, err := d.String()
	if err != nil {
		return time.Time{}, err
	}
	t, perr := ParseTimestampFormat(s, format)
	if perr != nil {
		return time.Time{}, &FieldError{Kind: KindSerialization, Detail: perr.Error()}
	}
	return t, nil
}

// Raw returns the next value verbatim (for document members). null yields
// nil.
func (d *Decoder) Raw() (json.RawMessage, error) {
	if d.Null() {
		return nil, nil
	}
	d.skipWS()
	start := d.pos
	if err := d.Skip(); err != nil {
		return nil, err
	}
	return append(json.RawMessage(nil), d.data[start:d.pos]...), nil
}

// Skip consumes and checks one value of any type. It is iterative, so deep
// nesting costs no stack; nesting beyond MaxJSONDepth is an error.
func (d *Decoder) Skip() error {
	var stack [MaxJSONDepth]byte // '{' or '['
	n := 0
	// expectValue: we are at a value position
	for {
		c := d.peek()
		switch c {
		case '{', '[':
			if n+d.depth >= MaxJSONDepth {
				return d.syntaxErr("nesting too deep")
			}
			stack[n] = c
			n++
			d.pos++
			// empty container?
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if d.peek() == closer {
				d.pos++
				n--
				goto afterValue
			}
			if c == '{' {
				if err := d.skipKey(); err != nil {
					return err
				}
			}
			continue
		case '"':
			if _, err := d.readStringBytes(); err != nil {
				return err
			}
		case 't', 'f':
			if _, err := d.Bool(); err != nil {
				return err
			}
		case 'n':
			if !d.Null() {
				return d.syntaxErr("invalid literal")
			}
		case 0:
			return d.syntaxErr("unexpected end of input")
		default:
			if c != '-' && (c < '0' || c > '9') {
				return d.syntaxErr("unexpected character")
			}
			if _, _, err := d.number(); err != nil {
				return err
			}
		}
	afterValue:
		for {
			if n == 0 {
				return nil
			}
			c := d.peek()
			top := stack[n-1]
			switch {
			case c == ',':
				d.pos++
				if top == '{' {
					if err := d.skipKey(); err != nil {
						return err
					}
				}
			case top == '{' && c == '}', top == '[' && c == ']':
				d.pos++
				n--
				continue afterValue
			default:
				return d.syntaxErr("expected ',' or end of container")
			}
			break
		}
	}
}

func (d *Decoder) skipKey() error {
	if d.peek() != '"' {
		return d.syntaxErr("expected string key in object")
	}
	if _, err := d.readStringBytes(); err != nil {
		return err
	}
	if d.peek() != ':' {
		return d.syntaxErr("expected ':' after object key")
	}
	d.pos++
	return nil
}

// StringAs reads a JSON string into a string type (an enum).
func StringAs[T ~string](d *Decoder) (T, error) {
	s, err := d.String()
	return T(s), err
}

// TrailingData is the error for data after the top-level JSON value.
func TrailingData() error {
	return SerializationError("", "unexpected data after the JSON value")
}
