package meta

import (
	"encoding/base64"
	"encoding/json"

	"github.com/coffer/coffer/internal/backup"
)

// Cursor is the position a page token encodes: the sort key of the last
// item returned. Drivers use EncodeCursor and DecodeCursor so that all
// drivers' tokens look alike; callers treat tokens as opaque.
type Cursor struct {
	// Scope names the list (e.g. "vaults"); a token is refused by another
	// list.
	Scope string `json:"s"`
	// T is the time part of the sort key in Unix nanoseconds (lists
	// ordered by time), 0 otherwise.
	T int64 `json:"t,omitempty"`
	// K is the string part of the sort key (name, ARN, job ID).
	K string `json:"k"`
}

// EncodeCursor returns the token for c.
func EncodeCursor(c Cursor) string {
	b, _ := json.Marshal(c) // cannot fail for this struct
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a token of the given scope. An empty token is the
// first page (ok == false). A malformed token or one of another scope is an
// InvalidParameter error.
func DecodeCursor(scope, token string) (c Cursor, ok bool, err error) {
	if token == "" {
		return Cursor{}, false, nil
	}
	bad := backup.InvalidParameterf("the NextToken is not valid for this list; start again without one")
	if len(token) > 4096 {
		return Cursor{}, false, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return Cursor{}, false, bad
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Scope != scope {
		return Cursor{}, false, bad
	}
	return c, true, nil
}

// Limit validates p.MaxResults and returns the page size to use.
func Limit(p Page) (int, error) {
	switch {
	case p.MaxResults == 0:
		return DefaultMaxResults, nil
	case p.MaxResults < 0 || p.MaxResults > MaxResultsLimit:
		return 0, backup.InvalidParameterf("MaxResults must be between 1 and %d, got %d", MaxResultsLimit, p.MaxResults)
	}
	return p.MaxResults, nil
}
