package awsproto

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NextQueryPair splits the first key=value pair off a raw query string and
// unescapes both ('+' means space). Empty pairs ("a=1&&b=2") are skipped;
// a key without '=' has an empty value. It returns rest == "" after the
// last pair.
func NextQueryPair(raw string) (key, value, rest string, err error) {
	for raw != "" {
		var pair string
		pair, rest, _ = strings.Cut(raw, "&")
		if pair == "" {
			raw = rest
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if key, err = queryUnescape(k); err != nil {
			return "", "", rest, SerializationError("", "malformed query string: "+err.Error())
		}
		if value, err = queryUnescape(v); err != nil {
			return "", "", rest, SerializationError("", "malformed query parameter "+strconv.Quote(key)+": "+err.Error())
		}
		return key, value, rest, nil
	}
	return "", "", "", nil
}

func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// HasQueryKey reports whether the raw query contains key (e.g. "delete"
// for a request URI template "/x?delete").
func HasQueryKey(raw, key string) bool { return queryHas(raw, key, "") }

// The Parse* functions convert query-string and header values; member is
// the member name used in error messages, wire the query key or header
// name.

// ParseBoolParam parses "true" or "false".
func ParseBoolParam(member, wire, v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, paramErr(member, wire, v, "a boolean (true or false)")
}

// ParseInt32Param parses a decimal int32.
func ParseInt32Param(member, wire, v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, paramErr(member, wire, v, "a 32-bit integer")
	}
	return int32(n), nil
}

// ParseInt64Param parses a decimal int64.
func ParseInt64Param(member, wire, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, paramErr(member, wire, v, "a 64-bit integer")
	}
	return n, nil
}

// ParseFloat64Param parses a number (also NaN, Infinity, -Infinity).
func ParseFloat64Param(member, wire, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && v != "NaN" && v != "Infinity" && v != "-Infinity" {
		return 0, paramErr(member, wire, v, "a number")
	}
	return f, nil
}

// ParseTimeParam parses a timestamp given in a query string or header in
// format (timestampFormat trait; "" means the location default, def).
func ParseTimeParam(member, wire, v, format, def string) (time.Time, error) {
	if format == "" {
		format = def
	}
	t, err := ParseTimestampFormat(v, format)
	if err != nil {
		want := "an ISO-8601 timestamp"
		switch format {
		case FormatRFC822:
			want = "an HTTP-date timestamp"
		case FormatUnix:
			want = "an epoch-seconds timestamp"
		}
		return time.Time{}, paramErr(member, wire, v, want)
	}
	return t, nil
}

func paramErr(member, wire, v, want string) error {
	return SerializationError(member, "value "+Show(v, false)+" of "+wire+" is not "+want)
}

// SplitHeaderList splits a header value holding a list ("a, b,c") into its
// trimmed elements; empty elements are dropped.
func SplitHeaderList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
