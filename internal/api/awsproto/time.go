package awsproto

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Timestamp formats named by the model's timestampFormat trait.
const (
	FormatUnix   = "unixTimestamp"
	FormatISO    = "iso8601"
	FormatRFC822 = "rfc822"
)

// ParseEpochSeconds parses seconds since the Unix epoch written as a JSON
// number ("1516925490", "1516925490.087", "1.516925490087E9"). Decimal
// literals are converted exactly to nanoseconds; exponent forms go through
// float64 and are rounded to the microsecond.
func ParseEpochSeconds(lit string) (time.Time, error) {
	if lit == "" {
		return time.Time{}, errors.New("empty timestamp")
	}
	if !strings.ContainsAny(lit, "eE") {
		neg := lit[0] == '-'
		body := lit
		if neg {
			body = lit[1:]
		}
		intPart, frac, _ := strings.Cut(body, ".")
		if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
			return time.Time{}, fmt.Errorf("invalid epoch-seconds timestamp %q", lit)
		}
		sec, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || sec > maxEpochSeconds {
			return time.Time{}, fmt.Errorf("epoch-seconds timestamp %q out of range", lit)
		}
		var nsec int64
		for i := 0; i < 9; i++ {
			nsec *= 10
			if i < len(frac) {
				nsec += int64(frac[i] - '0')
			}
		}
		if neg {
			sec, nsec = -sec, -nsec
		}
		return time.Unix(sec, nsec).UTC(), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxEpochSeconds {
		return time.Time{}, fmt.Errorf("invalid epoch-seconds timestamp %q", lit)
	}
	sec, frac := math.Modf(f)
	usec := math.Round(frac * 1e6)
	return time.Unix(int64(sec), int64(usec)*1000).UTC(), nil
}

// maxEpochSeconds keeps timestamps within years 0001..9999 in magnitude so
// that formatting never overflows.
const maxEpochSeconds = 253402300799

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseISO8601 parses an ISO-8601 / RFC 3339 date-time with or without
// fractional seconds. A missing zone designator means UTC.
func ParseISO8601(s string) (time.Time, error) {
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid ISO-8601 timestamp %q", s)
}

var isoLayouts = []string{
	time.RFC3339Nano, // also accepts no fraction
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"20060102T150405Z",
}

// ParseHTTPDate parses an RFC 822 / RFC 1123 date as used in HTTP headers.
func ParseHTTPDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid HTTP-date timestamp %q", s)
}

// ParseTimestamp is the lenient parser for timestamps given as strings:
// ISO-8601 (with or without fraction), epoch seconds, or an HTTP date.
func ParseTimestamp(s string) (time.Time, error) {
	if t, err := ParseISO8601(s); err == nil {
		return t, nil
	}
	if s != "" && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		if t, err := ParseEpochSeconds(s); err == nil {
			return t, nil
		}
	}
	if t, err := ParseHTTPDate(s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: want ISO-8601 or epoch seconds", s)
}

// ParseTimestampFormat parses s in the named timestampFormat; an empty
// format means the lenient ParseTimestamp. Each format also accepts the
// others, since being liberal in what we accept costs nothing here.
func ParseTimestampFormat(s, format string) (time.Time, error) {
	var t time.Time
	var err error
	switch format {
	case FormatISO:
		t, err = ParseISO8601(s)
	case FormatRFC822:
		t, err = ParseHTTPDate(s)
	case FormatUnix:
		t, err = ParseEpochSeconds(s)
	}
	if format == "" || err != nil {
		if t2, err2 := ParseTimestamp(s); err2 == nil {
			return t2, nil
		}
		if err == nil {
			err = fmt.Errorf("invalid timestamp %q", s)
		}
		return time.Time{}, err
	}
	return t, nil
}

// AppendEpochSeconds appends t as seconds since the epoch with millisecond
// precision and no trailing zeros: 1516925490.087, 1516925490.5,
// 1516925490.
func AppendEpochSeconds(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	if frac == 0 {
		return b
	}
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	for b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	return b
}

// FormatISO8601 formats t as the ISO-8601 form AWS uses in query strings
// and headers: UTC, millisecond precision when non-zero.
func FormatISO8601(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1e6 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// FormatHTTPDate formats t as an RFC 1123 date in GMT.
func FormatHTTPDate(t time.Time) string {
	return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
}

// FormatTimestamp formats t in the named timestampFormat for a header or
// query value; empty format means def.
func FormatTimestamp(t time.Time, format, def string) string {
	if format == "" {
		format = def
	}
	switch format {
	case FormatISO:
		return FormatISO8601(t)
	case FormatUnix:
		return string(AppendEpochSeconds(nil, t))
	default:
		return FormatHTTPDate(t)
	}
}
