package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	typeOfConfig      = reflect.TypeFor[Config]()
	typeOfUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	typeOfDuration    = reflect.TypeFor[time.Duration]()
)

// checkKeys walks the YAML node n against the Go type t and reports every
// mapping key that t has no field for, and duplicate keys, as
// "file:line: unknown key "k" in path (known keys: ...)". Types that
// unmarshal themselves, and scalars, are left to the decoder.
func checkKeys(n *yaml.Node, t reflect.Type, path, file string) []error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return checkKeys(n.Content[0], t, path, file)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(typeOfUnmarshaler) {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	where := path
	if where == "" {
		where = "the top level"
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return []error{fmt.Errorf("%s:%d: %s: want a mapping of keys, got %s", file, n.Line, where, kindName(n))}
		}
		fields := yamlFields(t)
		var errs []error
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // merge key: its mapping(s) belong to the same struct
				errs = append(errs, checkKeys(v, t, path, file)...)
				continue
			}
			if line, dup := seen[k.Value]; dup {
				errs = append(errs, fmt.Errorf("%s:%d: key %q in %s is already defined at line %d", file, k.Line, k.Value, where, line))
				continue
			}
			seen[k.Value] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				errs = append(errs, fmt.Errorf("%s:%d: unknown key %q in %s (known keys: %s)", file, k.Line, k.Value, where, knownKeys(fields)))
				continue
			}
			errs = append(errs, checkKeys(v, f.Type, join(path, k.Value), file)...)
		}
		return errs
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && t.Elem().Kind() == reflect.Uint8 {
				return nil
			}
			return []error{fmt.Errorf("%s:%d: %s: want a list, got %s", file, n.Line, where, kindName(n))}
		}
		var errs []error
		for i, e := range n.Content {
			errs = append(errs, checkKeys(e, t.Elem(), path+"["+strconv.Itoa(i)+"]", file)...)
		}
		return errs
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return []error{fmt.Errorf("%s:%d: %s: want a mapping, got %s", file, n.Line, where, kindName(n))}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), file)...)
		}
		return errs
	default:
		if n.Kind != yaml.ScalarNode {
			return []error{fmt.Errorf("%s:%d: %s: want a single value, got %s", file, n.Line, where, kindName(n))}
		}
		return checkScalar(n, t, where, file)
	}
}

// checkScalar reports a scalar that will not decode into t, with the
// field's path (the decoder's own message names only the Go type).
func checkScalar(n *yaml.Node, t reflect.Type, where, file string) []error {
	bad := func(want string) []error {
		return []error{fmt.Errorf("%s:%d: %s: want %s, got %q", file, n.Line, where, want, n.Value)}
	}
	if t == typeOfDuration {
		if d, err := time.ParseDuration(n.Value); err != nil || n.Tag != "!!str" || d < 0 {
			return bad("a duration with a unit, such as 1h, 90m or 30s")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Tag != "!!int" {
			return bad("a whole number")
		}
	case reflect.Bool:
		if n.Tag != "!!bool" {
			return bad("true or false")
		}
	case reflect.Float32, reflect.Float64:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			return bad("a number")
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "the value " + strconv.Quote(n.Value)
	}
	return "something else"
}

// yamlFields maps a struct's YAML keys to its fields (inline structs are
// flattened).
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func knownKeys(fields map[string]reflect.StructField) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
