package blob

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Limits on names. MaxNameLen is S3's key limit; MaxElementLen is the usual
// file-name limit of local file systems.
const (
	MaxNameLen    = 1024
	MaxElementLen = 255
)

// ValidName reports whether name follows the rules in the package comment.
// It returns nil or an error wrapping ErrInvalidName that says which rule
// the name breaks. Drivers call it before any I/O.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: name is %d bytes long, more than %d", ErrInvalidName, len(name), MaxNameLen)
	}
	if err := validChars(name); err != nil {
		return err
	}
	if name[0] == '/' {
		return fmt.Errorf("%w: %q starts with /", ErrInvalidName, name)
	}
	if name[len(name)-1] == '/' {
		return fmt.Errorf("%w: %q ends with /", ErrInvalidName, name)
	}
	for elem := range strings.SplitSeq(name, "/") {
		if err := validElement(name, elem); err != nil {
			return err
		}
	}
	return nil
}

// ValidPrefix reports whether some valid name could start with prefix, that
// is whether List(prefix) is a meaningful question. The empty prefix is
// valid. Every complete element (one followed by "/") must obey the element
// rules of ValidName; the last, partial element may be "." or "..", because
// "..x" is a valid element.
func ValidPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > MaxNameLen {
		return fmt.Errorf("%w: prefix is %d bytes long, more than %d", ErrInvalidName, len(prefix), MaxNameLen)
	}
	if err := validChars(prefix); err != nil {
		return err
	}
	if prefix[0] == '/' {
		return fmt.Errorf("%w: prefix %q starts with /", ErrInvalidName, prefix)
	}
	elems := strings.Split(prefix, "/")
	for i, elem := range elems {
		if i == len(elems)-1 {
			if len(elem) > MaxElementLen {
				return fmt.Errorf("%w: element %q of %q is longer than %d bytes", ErrInvalidName, elem, prefix, MaxElementLen)
			}
			break
		}
		if err := validElement(prefix, elem); err != nil {
			return err
		}
	}
	return nil
}

func validChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-', c == '/':
		default:
			return fmt.Errorf("%w: %q contains the byte %q at %d (allowed: A-Z a-z 0-9 . _ - /)", ErrInvalidName, s, c, i)
		}
	}
	return nil
}

func validElement(name, elem string) error {
	switch {
	case elem == "":
		return fmt.Errorf("%w: %q has an empty element", ErrInvalidName, name)
	case elem == "." || elem == "..":
		return fmt.Errorf("%w: %q has a %q element", ErrInvalidName, name, elem)
	case len(elem) > MaxElementLen:
		return fmt.Errorf("%w: element %q of %q is longer than %d bytes", ErrInvalidName, elem, name, MaxElementLen)
	}
	return nil
}

// ContextReader returns a reader that reads r until ctx is done and then
// fails every Read with ctx.Err(). Drivers use it so that a reader returned
// by Get honours the context of the Get call (see Store).
func ContextReader(ctx context.Context, r io.ReadCloser) io.ReadCloser {
	if ctx.Done() == nil {
		return r
	}
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.ReadCloser
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReader) Close() error { return c.r.Close() }
