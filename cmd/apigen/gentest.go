package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The validation table test is generated from the model: for every
// operation a minimal valid request (which must reach the service and get
// 501 from Unimplemented), and for every required member and every
// constrained member (top level and nested) a request that violates exactly
// that rule. Requests are rendered to HTTP here, at generation time, the
// way an SDK would send them.

// tval is a value of a shape in a test request.
type tval struct {
	shape string
	kind  byte // 's' string, 'n' number literal, 'b' bool, 't' timestamp, 'd' document, 'l' list, 'm' map, 'o' structure
	s     string
	items []*tval // list elements
	keys  []string
	vals  []*tval // map or structure members, parallel to keys
}

func (v *tval) clone() *tval {
	c := *v
	c.items = make([]*tval, len(v.items))
	for i, x := range v.items {
		c.items[i] = x.clone()
	}
	c.keys = append([]string(nil), v.keys...)
	c.vals = make([]*tval, len(v.vals))
	for i, x := range v.vals {
		c.vals[i] = x.clone()
	}
	return &c
}

func (v *tval) get(k string) *tval {
	for i, key := range v.keys {
		if key == k {
			return v.vals[i]
		}
	}
	return nil
}

func (v *tval) set(k string, x *tval) {
	for i, key := range v.keys {
		if key == k {
			v.vals[i] = x
			return
		}
	}
	v.keys = append(v.keys, k)
	v.vals = append(v.vals, x)
}

func (v *tval) del(k string) {
	for i, key := range v.keys {
		if key == k {
			v.keys = append(v.keys[:i], v.keys[i+1:]...)
			v.vals = append(v.vals[:i], v.vals[i+1:]...)
			return
		}
	}
}

// testTime is the timestamp used in generated requests.
var testTime = time.Unix(1700000000, 0).UTC()

func (g *gen) regexp(s *Shape) *regexp.Regexp {
	if s.Pattern == "" {
		return nil
	}
	return regexp.MustCompile(s.Pattern) // checked when the model was loaded
}

func lenOK(s *Shape, v string) bool {
	n := int64(utf8.RuneCountInString(v))
	return (s.Min == nil || n >= s.Min.i) && (s.Max == nil || n <= s.Max.i)
}

// sampleString returns a string that satisfies every constraint of s.
func (g *gen) sampleString(s *Shape) (string, error) {
	if len(s.Enum) > 0 {
		return s.Enum[0], nil
	}
	re := g.regexp(s)
	cands := []string{"sample", "sample-1", "abc", "ab", "a", "123456789012", "Sample_1", "x"}
	if s.Min != nil && s.Min.i > 0 {
		cands = append(cands, strings.Repeat("a", int(s.Min.i)), strings.Repeat("1", int(s.Min.i)))
	}
	for _, c := range cands {
		if lenOK(s, c) && (re == nil || re.MatchString(c)) {
			return c, nil
		}
	}
	return "", fmt.Errorf("shape %s: no sample string satisfies its constraints; add a candidate to apigen", s.Name)
}

func (g *gen) sampleInt(s *Shape) int64 {
	v := int64(1)
	if s.Min != nil && v < s.Min.i {
		v = s.Min.i
	}
	if s.Max != nil && v > s.Max.i {
		v = s.Max.i
	}
	return v
}

// minimal builds the smallest valid value of a shape: required members
// only, lists and maps with as many elements as their minimum (and one when
// they are required, so query lists are present).
func (g *gen) minimal(name string, depth int) (*tval, error) {
	if depth > 32 {
		return nil, fmt.Errorf("shape %s: required members form a cycle", name)
	}
	s := g.shape(name)
	v := &tval{shape: name}
	switch s.Type {
	case "string":
		v.kind = 's'
		str, err := g.sampleString(s)
		if err != nil {
			return nil, err
		}
		v.s = str
	case "integer", "long":
		v.kind = 'n'
		v.s = strconv.FormatInt(g.sampleInt(s), 10)
	case "double", "float":
		v.kind = 'n'
		f := 1.0
		if s.Min != nil && f < s.Min.f {
			f = s.Min.f
		}
		if s.Max != nil && f > s.Max.f {
			f = s.Max.f
		}
		v.s = strconv.FormatFloat(f, 'g', -1, 64)
	case "boolean":
		v.kind = 'b'
		v.s = "true"
	case "timestamp":
		v.kind = 't'
	case "document":
		v.kind = 'd'
		v.s = "{}"
	case "list":
		v.kind = 'l'
		n := 0
		if s.Min != nil {
			n = int(s.Min.i)
		}
		for i := 0; i < n; i++ {
			e, err := g.minimal(s.Member, depth+1)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, e)
		}
	case "map":
		v.kind = 'm'
		n := 0
		if s.Min != nil {
			n = int(s.Min.i)
		}
		for i := 0; i < n; i++ {
			if err := g.addMapEntry(v, s, depth); err != nil {
				return nil, err
			}
		}
	case "structure":
		v.kind = 'o'
		for _, r := range s.Required {
			mb := s.MemberNamed(r)
			x, err := g.minimal(mb.Shape, depth+1)
			if err != nil {
				return nil, err
			}
			ms := g.shape(mb.Shape)
			if (ms.Type == "list" || ms.Type == "map") && len(x.items) == 0 && len(x.keys) == 0 {
				if ms.Type == "list" {
					e, err := g.minimal(ms.Member, depth+1)
					if err != nil {
						return nil, err
					}
					x.items = append(x.items, e)
				} else if err := g.addMapEntry(x, ms, depth); err != nil {
					return nil, err
				}
			}
			v.set(mb.Name, x)
		}
	}
	return v, nil
}

// addMapEntry adds one entry with a fresh valid key.
func (g *gen) addMapEntry(v *tval, s *Shape, depth int) error {
	ks := g.shape(s.Key)
	base, err := g.sampleString(ks)
	if err != nil {
		return err
	}
	key := base
	re := g.regexp(ks)
	for i := 1; v.get(key) != nil; i++ {
		key = base + strconv.Itoa(i)
		if !lenOK(ks, key) || (re != nil && !re.MatchString(key)) || i > 1000 {
			return fmt.Errorf("shape %s: cannot make distinct map keys", s.Name)
		}
	}
	x, err := g.minimal(s.Value, depth+1)
	if err != nil {
		return err
	}
	v.set(key, x)
	return nil
}

// step is one element of a path into a test value.
type step struct {
	member string // structure member
	index  bool   // list element 0
	key    string // map key (when !index && member == "")
}

// ensure walks path from root, creating missing containers with minimal
// content, and returns the container holding the last step.
func (g *gen) ensure(root *tval, path []step) (*tval, error) {
	cur := root
	for _, st := range path {
		s := g.shape(cur.shape)
		switch {
		case st.member != "":
			next := cur.get(st.member)
			if next == nil {
				var err error
				if next, err = g.minimal(s.MemberNamed(st.member).Shape, 0); err != nil {
					return nil, err
				}
				cur.set(st.member, next)
			}
			cur = next
		case st.index:
			if len(cur.items) == 0 {
				e, err := g.minimal(s.Member, 0)
				if err != nil {
					return nil, err
				}
				cur.items = append(cur.items, e)
			}
			cur = cur.items[0]
		default:
			next := cur.get(st.key)
			if next == nil {
				var err error
				if next, err = g.minimal(s.Value, 0); err != nil {
					return nil, err
				}
				cur.set(st.key, next)
			}
			cur = next
		}
	}
	return cur, nil
}

// pathString renders a path as validation messages do.
func (g *gen) pathString(root string, path []step) string {
	var b strings.Builder
	cur := root
	for _, st := range path {
		s := g.shape(cur)
		switch {
		case st.member != "":
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(st.member)
			cur = s.MemberNamed(st.member).Shape
		case st.index:
			b.WriteString("[0]")
			cur = s.Member
		default:
			if g.sensitive[cur] {
				b.WriteString("[*]")
			} else {
				b.WriteString("[" + strconv.Quote(st.key) + "]")
			}
			cur = s.Value
		}
	}
	return b.String()
}

// testCase is one generated request.
type testCase struct {
	op, name     string
	method, path string
	query        string
	headers      [][2]string
	body         string
	labels       []string // set for direct cases (an empty label cannot be routed)
	want         string   // error code; "" = valid (expect 501 from Unimplemented)
	member       string   // path the message must name
	rule         string   // text the message must contain
}

// violation is one way to break a constraint.
type violation struct {
	rule  string // expected message fragment
	label string // case name
	apply func(parent *tval, last step) error
}

func (g *gen) violations(name string) ([]violation, error) {
	s := g.shape(name)
	var out []violation
	setScalar := func(kind byte, val string) func(*tval, step) error {
		return func(parent *tval, last step) error {
			x := &tval{shape: name, kind: kind, s: val}
			return setAtStep(parent, last, x)
		}
	}
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			out = append(out, violation{"must be one of", "enum", setScalar('s', "NOT_A_VALID_VALUE")})
			break
		}
		if s.Min != nil && s.Min.i > 0 {
			out = append(out, violation{"length must be at least", "min length", setScalar('s', strings.Repeat("a", int(s.Min.i-1)))})
		}
		if s.Max != nil {
			out = append(out, violation{"length must be at most", "max length", setScalar('s', strings.Repeat("a", int(s.Max.i+1)))})
		}
		if re := g.regexp(s); re != nil {
			found := false
			for _, c := range []string{"!", "!!", "!!!", " ", "  ", "-", "1", "_", "a b!", "#$%&"} {
				if lenOK(s, c) && !re.MatchString(c) {
					out = append(out, violation{"must match pattern", "pattern", setScalar('s', c)})
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("shape %s: no string violates pattern %q within its length bounds; add a candidate to apigen", name, s.Pattern)
			}
		}
	case "integer", "long":
		lim := int64(1<<31 - 1)
		if s.Type == "long" {
			lim = 1<<63 - 1
		}
		if s.Min != nil && s.Min.i > -lim {
			out = append(out, violation{"must be at least", "below min", setScalar('n', strconv.FormatInt(s.Min.i-1, 10))})
		}
		if s.Max != nil && s.Max.i < lim {
			out = append(out, violation{"must be at most", "above max", setScalar('n', strconv.FormatInt(s.Max.i+1, 10))})
		}
	case "double", "float":
		if s.Min != nil {
			out = append(out, violation{"must be at least", "below min", setScalar('n', strconv.FormatFloat(s.Min.f-1, 'g', -1, 64))})
		}
		if s.Max != nil {
			out = append(out, violation{"must be at most", "above max", setScalar('n', strconv.FormatFloat(s.Max.f+1, 'g', -1, 64))})
		}
	case "list", "map":
		count := func(n int) func(*tval, step) error {
			return func(parent *tval, last step) error {
				x := &tval{shape: name, kind: 'l'}
				if s.Type == "map" {
					x.kind = 'm'
				}
				for i := 0; i < n; i++ {
					if s.Type == "list" {
						e, err := g.minimal(s.Member, 0)
						if err != nil {
							return err
						}
						x.items = append(x.items, e)
					} else if err := g.addMapEntry(x, s, 0); err != nil {
						return err
					}
				}
				return setAtStep(parent, last, x)
			}
		}
		if s.Min != nil && s.Min.i > 0 {
			out = append(out, violation{"elements", "too few", count(int(s.Min.i - 1))})
		}
		if s.Max != nil {
			out = append(out, violation{"elements", "too many", count(int(s.Max.i + 1))})
		}
	}
	return out, nil
}

func setAtStep(parent *tval, last step, x *tval) error {
	switch {
	case last.member != "":
		parent.set(last.member, x)
	case last.index:
		if len(parent.items) == 0 {
			parent.items = append(parent.items, x)
		} else {
			parent.items[0] = x
		}
	default:
		parent.set(last.key, x)
	}
	return nil
}

// opCases builds the cases of one operation.
func (g *gen) opCases(op *Operation) ([]testCase, error) {
	if op.Input == "" {
		c, err := g.render(op, &tval{kind: 'o'})
		if err != nil {
			return nil, err
		}
		c.name = "valid"
		return []testCase{c}, nil
	}
	base, err := g.minimal(op.Input, 0)
	if err != nil {
		return nil, err
	}
	valid, err := g.render(op, base)
	if err != nil {
		return nil, err
	}
	valid.name = "valid"
	cases := []testCase{valid}
	visited := map[string]bool{}
	var walk func(shape string, path []step) error
	walk = func(shape string, path []step) error {
		s := g.shape(shape)
		if s.Type != "structure" || visited[shape] {
			return nil
		}
		visited[shape] = true
		for _, mb := range s.Members {
			mpath := append(append([]step(nil), path...), step{member: mb.Name})
			if s.IsRequired(mb.Name) {
				tree := base.clone()
				parent, err := g.ensure(tree, path)
				if err != nil {
					return err
				}
				parent.del(mb.Name)
				c, err := g.render(op, tree)
				if err != nil {
					return err
				}
				c.name = "missing " + g.pathString(op.Input, mpath)
				c.want, c.member = "MissingParameterValueException", g.pathString(op.Input, mpath)
				cases = append(cases, c)
			}
			if err := g.constraintCases(op, base, mpath, mb.Shape, s.IsRequired(mb.Name), &cases); err != nil {
				return err
			}
			ms := g.shape(mb.Shape)
			switch ms.Type {
			case "structure":
				if err := walk(mb.Shape, mpath); err != nil {
					return err
				}
			case "list":
				epath := append(append([]step(nil), mpath...), step{index: true})
				if err := g.constraintCases(op, base, epath, ms.Member, false, &cases); err != nil {
					return err
				}
				if err := walk(ms.Member, epath); err != nil {
					return err
				}
			case "map":
				key, err := g.sampleString(g.shape(ms.Key))
				if err != nil {
					return err
				}
				if err := g.keyCases(op, base, mpath, ms, &cases); err != nil {
					return err
				}
				vpath := append(append([]step(nil), mpath...), step{key: key})
				if err := g.constraintCases(op, base, vpath, ms.Value, false, &cases); err != nil {
					return err
				}
				if err := walk(ms.Value, vpath); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(op.Input, nil); err != nil {
		return nil, err
	}
	return cases, nil
}

// constraintCases adds a case per constraint of shape, set at path. required
// says whether path is a required structure member: an empty value there is
// a missing parameter, not a length violation.
func (g *gen) constraintCases(op *Operation, base *tval, path []step, shape string, required bool, cases *[]testCase) error {
	vs, err := g.violations(shape)
	if err != nil {
		return err
	}
	for _, v := range vs {
		tree := base.clone()
		parent, err := g.ensure(tree, path[:len(path)-1])
		if err != nil {
			return err
		}
		if err := v.apply(parent, path[len(path)-1]); err != nil {
			return err
		}
		c, err := g.render(op, tree)
		if err != nil {
			return err
		}
		if c.labels != nil {
			// an empty label (min length 1) cannot be sent; it reads as
			// missing, which the missing cases cover.
			continue
		}
		p := g.pathString(op.Input, path)
		c.name = v.label + " " + p
		c.want, c.member, c.rule = "InvalidParameterValueException", p, v.rule
		if ms := g.shape(shape); required && v.label == "min length" && ms.Type == "string" && ms.Min != nil && ms.Min.i == 1 {
			c.name = "empty " + p
			c.want, c.rule = "MissingParameterValueException", ""
		}
		*cases = append(*cases, c)
	}
	return nil
}

// keyCases adds a map entry whose key violates the key shape's pattern.
func (g *gen) keyCases(op *Operation, base *tval, path []step, ms *Shape, cases *[]testCase) error {
	ks := g.shape(ms.Key)
	re := g.regexp(ks)
	if re == nil && len(ks.Enum) == 0 {
		return nil
	}
	bad := ""
	if len(ks.Enum) > 0 {
		bad = "NOT_A_VALID_VALUE"
	} else {
		for _, c := range []string{"!", "!!", "!!!", " ", "a b!"} {
			if lenOK(ks, c) && !re.MatchString(c) {
				bad = c
				break
			}
		}
	}
	if bad == "" {
		return nil
	}
	tree := base.clone()
	m, err := g.ensure(tree, path)
	if err != nil {
		return err
	}
	x, err := g.minimal(ms.Value, 0)
	if err != nil {
		return err
	}
	m.set(bad, x)
	c, err := g.render(op, tree)
	if err != nil {
		return err
	}
	p := g.pathString(op.Input, path)
	c.name = "bad key " + p
	c.want, c.member, c.rule = "InvalidParameterValueException", p, "map key"
	*cases = append(*cases, c)
	return nil
}

// escapeLabel percent-encodes everything but RFC 3986 unreserved
// characters, as the SDKs do for URI labels.
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// scalarText renders a scalar for a label, query or header.
func (g *gen) scalarText(v *tval, location string) string {
	switch v.kind {
	case 't':
		if location == "header" {
			return testTime.Format(time.RFC1123)
		}
		return testTime.Format("2006-01-02T15:04:05Z")
	}
	return v.s
}

// render turns an input value into an HTTP request.
func (g *gen) render(op *Operation, in *tval) (testCase, error) {
	c := testCase{op: op.Name, method: op.Method}
	uri, lit, _ := strings.Cut(op.RequestURI, "?")
	var s *Shape
	if op.Input != "" {
		s = g.shape(op.Input)
	}
	var query []string
	body := &tval{kind: 'o', shape: op.Input}
	labels := map[string]string{}
	if s != nil {
		for _, mb := range s.Members {
			v := in.get(mb.Name)
			switch mb.Location {
			case "uri":
				if v == nil {
					labels[mb.WireName()] = ""
				} else {
					labels[mb.WireName()] = g.scalarText(v, "uri")
				}
			case "querystring":
				if v == nil {
					continue
				}
				if v.kind == 'l' {
					for _, e := range v.items {
						query = append(query, escapeLabel(mb.WireName())+"="+escapeLabel(g.scalarText(e, "query")))
					}
				} else {
					query = append(query, escapeLabel(mb.WireName())+"="+escapeLabel(g.scalarText(v, "query")))
				}
			case "header":
				if v == nil {
					continue
				}
				if v.kind == 'l' {
					var parts []string
					for _, e := range v.items {
						parts = append(parts, g.scalarText(e, "header"))
					}
					c.headers = append(c.headers, [2]string{mb.WireName(), strings.Join(parts, ",")})
				} else {
					c.headers = append(c.headers, [2]string{mb.WireName(), g.scalarText(v, "header")})
				}
			default:
				if v != nil {
					body.set(mb.WireName(), v)
				}
			}
		}
	}
	direct := false
	var ordered []string
	path := labelRE.ReplaceAllStringFunc(uri, func(m string) string {
		name := m[1 : len(m)-1]
		v := labels[name]
		ordered = append(ordered, v)
		if v == "" {
			direct = true
		}
		return escapeLabel(v)
	})
	if direct {
		c.labels = ordered
		if c.labels == nil {
			c.labels = []string{}
		}
	}
	c.path = path
	if lit != "" {
		query = append([]string{lit}, query...)
	}
	c.query = strings.Join(query, "&")
	if s != nil && len(g.bodyMembers(s)) > 0 {
		var b bytes.Buffer
		writeTJSON(&b, body)
		c.body = b.String()
	}
	return c, nil
}

func writeTJSON(b *bytes.Buffer, v *tval) {
	switch v.kind {
	case 's':
		enc, _ := json.Marshal(v.s)
		b.Write(enc)
	case 'n', 'b':
		b.WriteString(v.s)
	case 't':
		b.WriteString(strconv.FormatInt(testTime.Unix(), 10))
	case 'd':
		b.WriteString(v.s)
	case 'l':
		b.WriteByte('[')
		for i, e := range v.items {
			if i > 0 {
				b.WriteByte(',')
			}
			writeTJSON(b, e)
		}
		b.WriteByte(']')
	case 'm', 'o':
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			enc, _ := json.Marshal(k)
			b.Write(enc)
			b.WriteByte(':')
			writeTJSON(b, v.vals[i])
		}
		b.WriteByte('}')
	}
}

func (g *gen) genValidationTest(b *bytes.Buffer) error {
	var all []testCase
	for _, op := range g.m.Ops {
		cs, err := g.opCases(op)
		if err != nil {
			return fmt.Errorf("operation %s: %w", op.Name, err)
		}
		all = append(all, cs...)
	}
	fmt.Fprintf(b, "package %s\n\n", g.pkg)
	writeImports(b, []string{`"context"`, `"encoding/json"`, `"net/http"`, `"net/http/httptest"`, `"strings"`, `"testing"`,
		`"github.com/coffer/coffer/internal/api/awsproto"`})
	b.WriteString(`// generatedCase is one request of the generated validation table: a
// minimal valid request of an operation ("valid"), or one that breaks
// exactly one rule of the model.
type generatedCase struct {
	op, name     string
	method, path string
	query        string
	headers      [][2]string
	body         string
	// labels is set when a label is empty: such a request cannot be
	// routed, so the test calls the operation's binder directly.
	labels []string
	want   string // error code; "" means valid (Unimplemented answers 501)
	member string // member path the message must name
	rule   string // fragment the message must contain
}

// TestGeneratedValidation sends every case through the router (or, for
// empty labels, straight to the operation) and checks the error.
func TestGeneratedValidation(t *testing.T) {
	h := NewHandler(Unimplemented{}, HandlerOptions{})
	ops := map[string]int{}
	for i, op := range operationTable {
		ops[op.Name] = i
	}
	for _, c := range generatedValidationCases {
		t.Run(c.op+"/"+c.name, func(t *testing.T) {
			target := c.path
			if c.query != "" {
				target += "?" + c.query
			}
			if c.labels != nil {
				target = "/?" + c.query
			}
			req := httptest.NewRequest(c.method, target, strings.NewReader(c.body))
			for _, hv := range c.headers {
				req.Header.Set(hv[0], hv[1])
			}
			var code, msg string
			var status int
			if c.labels != nil {
				op := operationTable[ops[c.op]]
				rs := &awsproto.Response{Header: http.Header{}}
				err := op.Serve(context.Background(), Unimplemented{}, &awsproto.Request{HTTP: req, Labels: c.labels, Body: []byte(c.body)}, rs)
				ae, ok := err.(awsproto.Error)
				if !ok {
					t.Fatalf("got error %v (%T), want an awsproto.Error", err, err)
				}
				code, status = ae.ErrorCode(), ae.HTTPStatus()
				msg = ae.(awsproto.Detailed).ErrorMessage()
			} else {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				status = rec.Code
				code = rec.Header().Get("X-Amzn-Errortype")
				var body struct{ Message string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("response body %q is not JSON: %v", rec.Body.String(), err)
				}
				msg = body.Message
			}
			if c.want == "" {
				if status != http.StatusNotImplemented || code != "NotImplementedException" || !strings.Contains(msg, " "+c.op+" ") {
					t.Fatalf("valid request: got %d %s %q, want 501 NotImplementedException naming %s", status, code, msg, c.op)
				}
				return
			}
			if status != http.StatusBadRequest || code != c.want {
				t.Fatalf("got %d %s %q, want 400 %s", status, code, msg, c.want)
			}
			if c.want == "MissingParameterValueException" {
				if want := "Missing required parameter: " + c.member; msg != want {
					t.Fatalf("got message %q, want %q", msg, want)
				}
				return
			}
			if !strings.Contains(msg, " for "+c.member+": ") || !strings.Contains(msg, c.rule) {
				t.Fatalf("got message %q, want it to name %s and contain %q", msg, c.member, c.rule)
			}
		})
	}
}

`)
	b.WriteString(`// captureService records the operation and input of the last call and
// answers errCaptured (a 418 error), for tests that check decoding.
type captureService struct {
	op string
	in any
}

var errCaptured = &awsproto.ProtocolError{Code: "CapturedException", Status: http.StatusTeapot, Message: "captured"}

var _ Service = (*captureService)(nil)

`)
	for _, op := range g.m.Ops {
		fmt.Fprintf(b, "func (c *captureService) %s(_ context.Context, in *%s) (*%s, error) {\n\tc.op, c.in = %q, in\n\treturn nil, errCaptured\n}\n\n",
			op.Name, g.opIn[op.Name], g.opOut[op.Name], op.Name)
	}
	b.WriteString("var generatedValidationCases = []generatedCase{\n")
	for _, c := range all {
		fmt.Fprintf(b, "\t{op: %q, name: %q, method: %q, path: %q", c.op, c.name, c.method, c.path)
		if c.query != "" {
			fmt.Fprintf(b, ", query: %q", c.query)
		}
		if len(c.headers) > 0 {
			b.WriteString(", headers: [][2]string{")
			for i, h := range c.headers {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "{%q, %q}", h[0], h[1])
			}
			b.WriteString("}")
		}
		if c.body != "" {
			fmt.Fprintf(b, ", body: %s", goRawOrQuoted(c.body))
		}
		if c.labels != nil {
			fmt.Fprintf(b, ", labels: %s", goStringsAlways(c.labels))
		}
		if c.want != "" {
			fmt.Fprintf(b, ", want: %q, member: %q", c.want, c.member)
		}
		if c.rule != "" {
			fmt.Fprintf(b, ", rule: %q", c.rule)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return nil
}

func goStringsAlways(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}
