package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Model is the part of a botocore service model apigen understands. Loading
// fails on any key (trait) it does not know, so that a model update that
// brings a new trait cannot be silently mis-served.
type Model struct {
	Protocol   string
	APIVersion string
	Ops        []*Operation // sorted by name
	Shapes     map[string]*Shape
}

// Operation is one API operation.
type Operation struct {
	Name         string
	Method       string
	RequestURI   string
	ResponseCode int
	Input        string // shape name, "" when the operation has no input
	Output       string // shape name, "" when the operation has no output
	Errors       []string
	Idempotent   bool
	Paginator    *Paginator
}

// Paginator comes from the paginators file.
type Paginator struct {
	InputToken, OutputToken, LimitKey, ResultKey string
}

// Shape is a model shape.
type Shape struct {
	Name     string
	Type     string // structure list map string integer long boolean timestamp double float document
	Members  []*Member
	Required []string
	Enum     []string
	Pattern  string
	Min, Max *bound
	// Member is the element shape of a list; Key and Value those of a map.
	Member, Key, Value string
	Sensitive          bool
	Box                bool
	Exception, Fault   bool
	ErrorStatus        int // error.httpStatusCode, 0 when absent
	TimestampFormat    string
	Union              bool
}

// bound is a min or max constraint as written in the model.
type bound struct {
	lit string
	i   int64
	f   float64
}

// Member is a structure member.
type Member struct {
	Name             string
	Shape            string
	Location         string // "", uri, querystring, header, statusCode
	LocationName     string
	IdempotencyToken bool
	TimestampFormat  string
	Sensitive        bool
	Box              bool
}

// WireName is the member's name on the wire: query key, header or label
// name, or JSON key.
func (m *Member) WireName() string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

// IsRequired reports whether member name is required in s.
func (s *Shape) IsRequired(name string) bool { return slices.Contains(s.Required, name) }

// Member returns the member named name or nil.
func (s *Shape) MemberNamed(name string) *Member {
	for _, m := range s.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// allow fails when n has a key outside known.
func allowKeys(where string, n *node, known ...string) error {
	if n == nil || n.kind != 'o' {
		return fmt.Errorf("%s: expected an object", where)
	}
	for _, k := range n.keys {
		if !slices.Contains(known, k) {
			return fmt.Errorf("%s: unsupported model key (trait) %q; teach apigen about it or patch the model", where, k)
		}
	}
	return nil
}

func str(n *node) string {
	if n == nil || n.kind != 's' {
		return ""
	}
	return n.str
}

func boolean(n *node) bool { return n != nil && n.kind == 'b' && n.b }

func loadFile(path string) (*node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// LoadModel reads the service model, applies the JSON Patch file (if
// patchPath is not empty) and reads the paginators file (if not empty).
func LoadModel(modelPath, paginatorsPath, patchPath string) (*Model, error) {
	root, err := loadFile(modelPath)
	if err != nil {
		return nil, err
	}
	if patchPath != "" {
		patch, err := os.ReadFile(patchPath)
		if err != nil {
			return nil, err
		}
		if root, err = applyPatch(root, patch); err != nil {
			return nil, fmt.Errorf("%s: %w", patchPath, err)
		}
	}
	var pag *node
	if paginatorsPath != "" {
		if pag, err = loadFile(paginatorsPath); err != nil {
			return nil, err
		}
	}
	return buildModel(root, pag)
}

func buildModel(root, pag *node) (*Model, error) {
	if err := allowKeys("model", root, "version", "metadata", "operations", "shapes", "documentation"); err != nil {
		return nil, err
	}
	meta := root.get("metadata")
	m := &Model{Shapes: map[string]*Shape{}}
	m.Protocol = str(meta.get("protocol"))
	m.APIVersion = str(meta.get("apiVersion"))
	if m.Protocol != "rest-json" {
		return nil, fmt.Errorf("metadata.protocol is %q; apigen only generates rest-json", m.Protocol)
	}
	shapes := root.get("shapes")
	if shapes == nil || shapes.kind != 'o' {
		return nil, fmt.Errorf("model has no shapes")
	}
	for i, name := range shapes.keys {
		s, err := buildShape(name, shapes.vals[i])
		if err != nil {
			return nil, err
		}
		m.Shapes[name] = s
	}
	ops := root.get("operations")
	if ops == nil || ops.kind != 'o' {
		return nil, fmt.Errorf("model has no operations")
	}
	for i, name := range ops.keys {
		op, err := buildOp(name, ops.vals[i])
		if err != nil {
			return nil, err
		}
		m.Ops = append(m.Ops, op)
	}
	sort.Slice(m.Ops, func(i, j int) bool { return m.Ops[i].Name < m.Ops[j].Name })
	if pag != nil {
		if err := m.addPaginators(pag); err != nil {
			return nil, err
		}
	}
	return m, m.check()
}

func buildShape(name string, n *node) (*Shape, error) {
	where := "shape " + name
	if err := allowKeys(where, n, "type", "members", "required", "enum", "pattern", "min", "max",
		"member", "key", "value", "sensitive", "box", "exception", "fault", "error", "documentation",
		"deprecated", "deprecatedMessage", "timestampFormat", "union", "document"); err != nil {
		return nil, err
	}
	s := &Shape{Name: name, Type: str(n.get("type")), Pattern: str(n.get("pattern")),
		Sensitive: boolean(n.get("sensitive")), Box: boolean(n.get("box")),
		Exception: boolean(n.get("exception")), Fault: boolean(n.get("fault")),
		TimestampFormat: str(n.get("timestampFormat")), Union: boolean(n.get("union"))}
	if boolean(n.get("document")) {
		if s.Type != "structure" {
			return nil, fmt.Errorf("%s: document trait on a %s shape", where, s.Type)
		}
		s.Type = "document" // botocore spells a document as a structure with "document": true
	}
	switch s.Type {
	case "structure", "list", "map", "string", "integer", "long", "boolean", "timestamp", "double", "float", "document":
	default:
		return nil, fmt.Errorf("%s: unsupported shape type %q", where, s.Type)
	}
	if s.Union {
		return nil, fmt.Errorf("%s: union shapes are not supported", where)
	}
	for _, k := range []string{"min", "max"} {
		v := n.get(k)
		if v == nil {
			continue
		}
		if v.kind != 'n' {
			return nil, fmt.Errorf("%s: %s is not a number", where, k)
		}
		b := &bound{lit: v.str}
		f, err := strconv.ParseFloat(v.str, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad %s %q", where, k, v.str)
		}
		b.f = f
		b.i, err = strconv.ParseInt(v.str, 10, 64)
		if err != nil && s.Type != "double" && s.Type != "float" {
			return nil, fmt.Errorf("%s: %s %q is not an integer", where, k, v.str)
		}
		if k == "min" {
			s.Min = b
		} else {
			s.Max = b
		}
	}
	if e := n.get("enum"); e != nil {
		for _, v := range e.vals {
			s.Enum = append(s.Enum, str(v))
		}
		if s.Type != "string" {
			return nil, fmt.Errorf("%s: enum on a %s shape", where, s.Type)
		}
	}
	if errTrait := n.get("error"); errTrait != nil {
		if err := allowKeys(where+" error", errTrait, "httpStatusCode", "code", "senderFault"); err != nil {
			return nil, err
		}
		if c := errTrait.get("httpStatusCode"); c != nil {
			s.ErrorStatus, _ = strconv.Atoi(c.str)
		}
	}
	if s.Type == "list" {
		ref, err := shapeRef(where+" member", n.get("member"))
		if err != nil {
			return nil, err
		}
		s.Member = ref
	}
	if s.Type == "map" {
		var err error
		if s.Key, err = shapeRef(where+" key", n.get("key")); err != nil {
			return nil, err
		}
		if s.Value, err = shapeRef(where+" value", n.get("value")); err != nil {
			return nil, err
		}
	}
	if r := n.get("required"); r != nil {
		for _, v := range r.vals {
			s.Required = append(s.Required, str(v))
		}
	}
	if mem := n.get("members"); mem != nil && s.Type != "document" {
		if s.Type != "structure" {
			return nil, fmt.Errorf("%s: members on a %s shape", where, s.Type)
		}
		for i, mname := range mem.keys {
			mn := mem.vals[i]
			mwhere := where + " member " + mname
			if err := allowKeys(mwhere, mn, "shape", "location", "locationName", "idempotencyToken",
				"documentation", "deprecated", "deprecatedMessage", "box", "sensitive", "timestampFormat"); err != nil {
				return nil, err
			}
			mb := &Member{Name: mname, Shape: str(mn.get("shape")), Location: str(mn.get("location")),
				LocationName: str(mn.get("locationName")), IdempotencyToken: boolean(mn.get("idempotencyToken")),
				TimestampFormat: str(mn.get("timestampFormat")), Sensitive: boolean(mn.get("sensitive")),
				Box: boolean(mn.get("box"))}
			switch mb.Location {
			case "", "uri", "querystring", "header", "statusCode":
			default:
				return nil, fmt.Errorf("%s: unsupported location %q", mwhere, mb.Location)
			}
			if mb.Shape == "" {
				return nil, fmt.Errorf("%s: no shape", mwhere)
			}
			s.Members = append(s.Members, mb)
		}
	}
	for _, r := range s.Required {
		if s.MemberNamed(r) == nil {
			return nil, fmt.Errorf("%s: required member %q does not exist", where, r)
		}
	}
	return s, nil
}

func shapeRef(where string, n *node) (string, error) {
	if err := allowKeys(where, n, "shape", "documentation", "locationName"); err != nil {
		return "", err
	}
	if n.get("locationName") != nil {
		return "", fmt.Errorf("%s: locationName on a list member or map key is not supported", where)
	}
	s := str(n.get("shape"))
	if s == "" {
		return "", fmt.Errorf("%s: no shape", where)
	}
	return s, nil
}

func buildOp(name string, n *node) (*Operation, error) {
	where := "operation " + name
	if err := allowKeys(where, n, "name", "http", "input", "output", "errors", "idempotent",
		"documentation", "documentationUrl", "deprecated", "deprecatedMessage", "authtype"); err != nil {
		return nil, err
	}
	if a := str(n.get("authtype")); a != "" && a != "v4" {
		return nil, fmt.Errorf("%s: unsupported authtype %q", where, a)
	}
	h := n.get("http")
	if err := allowKeys(where+" http", h, "method", "requestUri", "responseCode"); err != nil {
		return nil, err
	}
	op := &Operation{Name: name, Method: str(h.get("method")), RequestURI: str(h.get("requestUri")),
		ResponseCode: 200, Idempotent: boolean(n.get("idempotent"))}
	if c := h.get("responseCode"); c != nil {
		code, err := strconv.Atoi(c.str)
		if err != nil || code < 200 || code > 299 {
			return nil, fmt.Errorf("%s: bad responseCode %q", where, c.str)
		}
		op.ResponseCode = code
	}
	if str(n.get("name")) != name {
		return nil, fmt.Errorf("%s: name member %q differs", where, str(n.get("name")))
	}
	for _, k := range []string{"input", "output"} {
		ref := n.get(k)
		if ref == nil {
			continue
		}
		s, err := shapeRef(where+" "+k, ref)
		if err != nil {
			return nil, err
		}
		if k == "input" {
			op.Input = s
		} else {
			op.Output = s
		}
	}
	if es := n.get("errors"); es != nil {
		for _, e := range es.vals {
			s, err := shapeRef(where+" error", e)
			if err != nil {
				return nil, err
			}
			op.Errors = append(op.Errors, s)
		}
	}
	return op, nil
}

func (m *Model) addPaginators(pag *node) error {
	if err := allowKeys("paginators", pag, "pagination"); err != nil {
		return err
	}
	p := pag.get("pagination")
	for i, name := range p.keys {
		pn := p.vals[i]
		where := "paginator " + name
		if err := allowKeys(where, pn, "input_token", "output_token", "limit_key", "result_key", "more_results", "non_aggregate_keys"); err != nil {
			return err
		}
		one := func(k string) (string, error) {
			v := pn.get(k)
			if v != nil && v.kind != 's' {
				return "", fmt.Errorf("%s: %s must be a single string for apigen", where, k)
			}
			return str(v), nil
		}
		var pg Paginator
		var err error
		if pg.InputToken, err = one("input_token"); err != nil {
			return err
		}
		if pg.OutputToken, err = one("output_token"); err != nil {
			return err
		}
		if pg.LimitKey, err = one("limit_key"); err != nil {
			return err
		}
		if pg.ResultKey, err = one("result_key"); err != nil {
			return err
		}
		op := m.Op(name)
		if op == nil {
			return fmt.Errorf("%s: no such operation", where)
		}
		op.Paginator = &pg
	}
	return nil
}

// Op returns the operation named name or nil.
func (m *Model) Op(name string) *Operation {
	for _, op := range m.Ops {
		if op.Name == name {
			return op
		}
	}
	return nil
}

var labelRE = regexp.MustCompile(`\{([^}]*)\}`)

// check verifies cross references and the HTTP bindings.
func (m *Model) check() error {
	for _, name := range sortedKeys(m.Shapes) {
		s := m.Shapes[name]
		refs := []string{s.Member, s.Key, s.Value}
		for _, mb := range s.Members {
			refs = append(refs, mb.Shape)
		}
		for _, r := range refs {
			if r != "" && m.Shapes[r] == nil {
				return fmt.Errorf("shape %s refers to unknown shape %q", name, r)
			}
		}
		if s.Type == "map" && m.Shapes[s.Key].Type != "string" {
			return fmt.Errorf("shape %s: map keys must be strings", name)
		}
		if s.Pattern != "" {
			if _, err := regexp.Compile(s.Pattern); err != nil {
				return fmt.Errorf("shape %s: pattern %q is not valid RE2 (patch it in model/patches.json): %w", name, s.Pattern, err)
			}
		}
		if s.Exception {
			for _, mb := range s.Members {
				if m.Shapes[mb.Shape].Type != "string" || mb.Location != "" {
					return fmt.Errorf("exception %s: member %s must be a body string", name, mb.Name)
				}
			}
		}
	}
	for _, op := range m.Ops {
		where := "operation " + op.Name
		for _, r := range append([]string{op.Input, op.Output}, op.Errors...) {
			if r != "" && m.Shapes[r] == nil {
				return fmt.Errorf("%s refers to unknown shape %q", where, r)
			}
		}
		for _, e := range op.Errors {
			if !m.Shapes[e].Exception {
				return fmt.Errorf("%s: error %s is not an exception shape", where, e)
			}
		}
		if !strings.HasPrefix(op.RequestURI, "/") {
			return fmt.Errorf("%s: requestUri %q must start with /", where, op.RequestURI)
		}
		path, _, _ := strings.Cut(op.RequestURI, "?")
		labels := map[string]bool{}
		for _, l := range labelRE.FindAllStringSubmatch(path, -1) {
			if strings.HasSuffix(l[1], "+") {
				return fmt.Errorf("%s: greedy label {%s} is not supported", where, l[1])
			}
			labels[l[1]] = true
		}
		in := m.Shapes[op.Input]
		bound := map[string]bool{}
		if in != nil {
			if in.Type != "structure" {
				return fmt.Errorf("%s: input is not a structure", where)
			}
			for _, mb := range in.Members {
				ms := m.Shapes[mb.Shape]
				switch mb.Location {
				case "uri":
					if !labels[mb.WireName()] {
						return fmt.Errorf("%s: member %s is bound to label {%s} absent from %s", where, mb.Name, mb.WireName(), op.RequestURI)
					}
					if !in.IsRequired(mb.Name) {
						return fmt.Errorf("%s: label member %s must be required", where, mb.Name)
					}
					if !isScalar(ms.Type) {
						return fmt.Errorf("%s: label member %s must be a scalar", where, mb.Name)
					}
					bound[mb.WireName()] = true
				case "querystring", "header":
					if ms.Type == "list" {
						et := m.Shapes[ms.Member].Type
						if !isScalar(et) {
							return fmt.Errorf("%s: %s list member %s must hold scalars", where, mb.Location, mb.Name)
						}
						if mb.Location == "header" && et == "timestamp" {
							return fmt.Errorf("%s: header list of timestamps %s is not supported (HTTP dates contain commas)", where, mb.Name)
						}
					} else if !isScalar(ms.Type) {
						return fmt.Errorf("%s: %s member %s of type %s is not supported", where, mb.Location, mb.Name, ms.Type)
					}
				case "statusCode":
					return fmt.Errorf("%s: statusCode location in an input", where)
				}
			}
		}
		for l := range labels {
			if !bound[l] {
				return fmt.Errorf("%s: label {%s} has no input member", where, l)
			}
		}
		if out := m.Shapes[op.Output]; out != nil {
			if out.Type != "structure" {
				return fmt.Errorf("%s: output is not a structure", where)
			}
			for _, mb := range out.Members {
				ms := m.Shapes[mb.Shape]
				switch mb.Location {
				case "uri", "querystring":
					return fmt.Errorf("%s: output member %s has location %s", where, mb.Name, mb.Location)
				case "header":
					if !isScalar(ms.Type) {
						return fmt.Errorf("%s: output header member %s must be a scalar", where, mb.Name)
					}
				case "statusCode":
					if ms.Type != "integer" {
						return fmt.Errorf("%s: statusCode member %s must be an integer", where, mb.Name)
					}
				}
			}
		}
		if op.Paginator != nil && in != nil {
			for _, k := range []string{op.Paginator.InputToken, op.Paginator.LimitKey} {
				if k != "" && in.MemberNamed(k) == nil {
					return fmt.Errorf("%s: paginator key %s is not an input member", where, k)
				}
			}
		}
	}
	return nil
}

func isScalar(t string) bool {
	switch t {
	case "string", "integer", "long", "boolean", "timestamp", "double", "float":
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
