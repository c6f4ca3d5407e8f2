package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// node is a JSON value that keeps object member order, so that generated
// code follows the model's member order and patches apply to the exact
// document.
type node struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	vals []*node // object values, parallel to keys; array elements
	str  string  // string value or number literal
	b    bool
}

func parseJSON(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return n, nil
}

func parseNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				if i := n.index(k); i >= 0 {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &node{kind: 'a'}
			for dec.More() {
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		}
	case string:
		return &node{kind: 's', str: t}, nil
	case json.Number:
		return &node{kind: 'n', str: string(t)}, nil
	case bool:
		return &node{kind: 'b', b: t}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func (n *node) index(k string) int {
	for i, key := range n.keys {
		if key == k {
			return i
		}
	}
	return -1
}

// get returns an object member or nil.
func (n *node) get(k string) *node {
	if n == nil || n.kind != 'o' {
		return nil
	}
	if i := n.index(k); i >= 0 {
		return n.vals[i]
	}
	return nil
}

func (n *node) clone() *node {
	c := *n
	c.keys = append([]string(nil), n.keys...)
	c.vals = make([]*node, len(n.vals))
	for i, v := range n.vals {
		c.vals[i] = v.clone()
	}
	return &c
}

func (n *node) equal(o *node) bool {
	if n.kind != o.kind {
		return false
	}
	switch n.kind {
	case 's':
		return n.str == o.str
	case 'n':
		a, err1 := strconv.ParseFloat(n.str, 64)
		b, err2 := strconv.ParseFloat(o.str, 64)
		return err1 == nil && err2 == nil && a == b
	case 'b':
		return n.b == o.b
	case 'z':
		return true
	case 'a':
		if len(n.vals) != len(o.vals) {
			return false
		}
		for i := range n.vals {
			if !n.vals[i].equal(o.vals[i]) {
				return false
			}
		}
		return true
	case 'o':
		if len(n.keys) != len(o.keys) {
			return false
		}
		for i, k := range n.keys {
			ov := o.get(k)
			if ov == nil || !n.vals[i].equal(ov) {
				return false
			}
		}
		return true
	}
	return false
}

// splitPointer parses a JSON Pointer (RFC 6901).
func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("JSON pointer %q must start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// lookup returns the value a pointer designates.
func (n *node) lookup(parts []string) (*node, error) {
	cur := n
	for _, p := range parts {
		switch cur.kind {
		case 'o':
			next := cur.get(p)
			if next == nil {
				return nil, fmt.Errorf("no member %q", p)
			}
			cur = next
		case 'a':
			i, err := arrayIndex(p, len(cur.vals), false)
			if err != nil {
				return nil, err
			}
			cur = cur.vals[i]
		default:
			return nil, fmt.Errorf("cannot descend into a scalar at %q", p)
		}
	}
	return cur, nil
}

func arrayIndex(p string, n int, forAdd bool) (int, error) {
	if forAdd && p == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(p)
	if err != nil || i < 0 || (p != "0" && strings.HasPrefix(p, "0")) {
		return 0, fmt.Errorf("bad array index %q", p)
	}
	if i > n || (!forAdd && i == n) {
		return 0, fmt.Errorf("array index %d out of range", i)
	}
	return i, nil
}

// patchOp is one JSON Patch (RFC 6902) operation.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
	// Comment documents why the patch exists; ignored when applying.
	Comment string `json:"comment"`
}

// applyPatch applies a JSON Patch document to root (in place) and returns
// the possibly replaced root.
func applyPatch(root *node, patch []byte) (*node, error) {
	var ops []patchOp
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ops); err != nil {
		return nil, fmt.Errorf("patch file: %w", err)
	}
	for i, op := range ops {
		var err error
		root, err = applyOne(root, op)
		if err != nil {
			return nil, fmt.Errorf("patch operation %d (%s %s): %w", i, op.Op, op.Path, err)
		}
	}
	return root, nil
}

func applyOne(root *node, op patchOp) (*node, error) {
	parts, err := splitPointer(op.Path)
	if err != nil {
		return nil, err
	}
	value := func() (*node, error) {
		if len(op.Value) == 0 {
			return nil, errors.New("missing value")
		}
		return parseJSON(op.Value)
	}
	switch op.Op {
	case "add", "replace":
		v, err := value()
		if err != nil {
			return nil, err
		}
		if op.Op == "replace" {
			if _, err := root.lookup(parts); err != nil {
				return nil, err
			}
		}
		return setAt(root, parts, v, op.Op == "add")
	case "remove":
		_, err := removeAt(root, parts)
		return root, err
	case "test":
		v, err := value()
		if err != nil {
			return nil, err
		}
		cur, err := root.lookup(parts)
		if err != nil {
			return nil, err
		}
		if !cur.equal(v) {
			return nil, errors.New("test failed: value differs")
		}
		return root, nil
	case "move", "copy":
		from, err := splitPointer(op.From)
		if err != nil {
			return nil, err
		}
		v, err := root.lookup(from)
		if err != nil {
			return nil, err
		}
		if op.Op == "move" {
			if strings.HasPrefix(op.Path+"/", op.From+"/") && op.Path != op.From {
				return nil, errors.New("cannot move a value into itself")
			}
			if _, err := removeAt(root, from); err != nil {
				return nil, err
			}
		} else {
			v = v.clone()
		}
		return setAt(root, parts, v, true)
	}
	return nil, fmt.Errorf("unknown patch op %q", op.Op)
}

func setAt(root *node, parts []string, v *node, insert bool) (*node, error) {
	if len(parts) == 0 {
		return v, nil
	}
	parent, err := root.lookup(parts[:len(parts)-1])
	if err != nil {
		return nil, err
	}
	last := parts[len(parts)-1]
	switch parent.kind {
	case 'o':
		if i := parent.index(last); i >= 0 {
			parent.vals[i] = v
		} else {
			parent.keys = append(parent.keys, last)
			parent.vals = append(parent.vals, v)
		}
	case 'a':
		i, err := arrayIndex(last, len(parent.vals), insert)
		if err != nil {
			return nil, err
		}
		if insert {
			parent.vals = append(parent.vals, nil)
			copy(parent.vals[i+1:], parent.vals[i:])
		}
		parent.vals[i] = v
	default:
		return nil, errors.New("parent is not a container")
	}
	return root, nil
}

func removeAt(root *node, parts []string) (*node, error) {
	if len(parts) == 0 {
		return nil, errors.New("cannot remove the root")
	}
	parent, err := root.lookup(parts[:len(parts)-1])
	if err != nil {
		return nil, err
	}
	last := parts[len(parts)-1]
	switch parent.kind {
	case 'o':
		i := parent.index(last)
		if i < 0 {
			return nil, fmt.Errorf("no member %q", last)
		}
		v := parent.vals[i]
		parent.keys = append(parent.keys[:i], parent.keys[i+1:]...)
		parent.vals = append(parent.vals[:i], parent.vals[i+1:]...)
		return v, nil
	case 'a':
		i, err := arrayIndex(last, len(parent.vals), false)
		if err != nil {
			return nil, err
		}
		v := parent.vals[i]
		parent.vals = append(parent.vals[:i], parent.vals[i+1:]...)
		return v, nil
	}
	return nil, errors.New("parent is not a container")
}
