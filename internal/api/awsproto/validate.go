package awsproto

import (
	"regexp"
	"strconv"
	"unicode/utf8"
)

// NoBound marks an absent min or max in the Check functions.
const NoBound = -1 << 63

// maxShownValue caps how much of a rejected value an error message echoes.
const maxShownValue = 128

// Show returns v as an error message may show it: quoted and truncated, or
// "" (hidden) when sensitive.
func Show(v string, sensitive bool) string {
	if sensitive {
		return ""
	}
	if len(v) > maxShownValue {
		cut := maxShownValue
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return strconv.Quote(v[:cut]) + "..."
	}
	return strconv.Quote(v)
}

// CheckLen checks a string's length in characters (Unicode code points)
// against min and max (NoBound for none).
func CheckLen(name, v string, min, max int64, sensitive bool) error {
	n := int64(utf8.RuneCountInString(v))
	if min != NoBound && n < min {
		return InvalidError(name, Show(v, sensitive), "length must be at least "+strconv.FormatInt(min, 10))
	}
	if max != NoBound && n > max {
		return InvalidError(name, Show(v, sensitive), "length must be at most "+strconv.FormatInt(max, 10))
	}
	return nil
}

// CheckPattern checks that v matches re (searched, not anchored, as the
// model's patterns are ECMA-262 style).
func CheckPattern(name, v string, re *regexp.Regexp, sensitive bool) error {
	if !re.MatchString(v) {
		return InvalidError(name, Show(v, sensitive), "must match pattern "+re.String())
	}
	return nil
}

// CheckRange checks an integer against min and max (NoBound for none).
func CheckRange(name string, v, min, max int64) error {
	if min != NoBound && v < min {
		return InvalidError(name, strconv.FormatInt(v, 10), "must be at least "+strconv.FormatInt(min, 10))
	}
	if max != NoBound && v > max {
		return InvalidError(name, strconv.FormatInt(v, 10), "must be at most "+strconv.FormatInt(max, 10))
	}
	return nil
}

// CheckFloatRange checks a float against min and max; hasMin/hasMax say
// which bounds exist.
func CheckFloatRange(name string, v, min, max float64, hasMin, hasMax bool) error {
	if hasMin && v < min {
		return InvalidError(name, strconv.FormatFloat(v, 'g', -1, 64), "must be at least "+strconv.FormatFloat(min, 'g', -1, 64))
	}
	if hasMax && v > max {
		return InvalidError(name, strconv.FormatFloat(v, 'g', -1, 64), "must be at most "+strconv.FormatFloat(max, 'g', -1, 64))
	}
	return nil
}

// CheckCount checks the number of elements of a list or map.
func CheckCount(name string, n int, min, max int64) error {
	if min != NoBound && int64(n) < min {
		return InvalidError(name, "", "must have at least "+strconv.FormatInt(min, 10)+" elements, has "+strconv.Itoa(n))
	}
	if max != NoBound && int64(n) > max {
		return InvalidError(name, "", "must have at most "+strconv.FormatInt(max, 10)+" elements, has "+strconv.Itoa(n))
	}
	return nil
}

// InvalidEnum reports a value outside an enum; allowed lists the values,
// comma separated.
func InvalidEnum(name, v string, sensitive bool, allowed string) error {
	return InvalidError(name, Show(v, sensitive), "must be one of "+allowed)
}

// InvalidKey wraps a constraint failure of a map key so that it names the
// key as the offending value: the returned error's path is the map's.
func InvalidKey(err error) error {
	if fe, ok := err.(*FieldError); ok {
		fe.segs = fe.segs[:0]
		fe.Detail = "map key " + fe.Detail
	}
	return err
}
