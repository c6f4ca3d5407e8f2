package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

func boundArg(b *bound) string {
	if b == nil {
		return "awsproto.NoBound"
	}
	return strconv.FormatInt(b.i, 10)
}

// patternVar names the compiled regexp of a pattern.
func (g *gen) patternVars() (map[string]string, []string) {
	vars := map[string]string{}
	var order []string
	for _, name := range sortedKeys(g.m.Shapes) {
		s := g.shape(name)
		if s.Pattern == "" || !g.inClosure[name] {
			continue
		}
		if _, ok := vars[s.Pattern]; ok {
			continue
		}
		v := fmt.Sprintf("pattern%d", len(order))
		vars[s.Pattern] = v
		order = append(order, s.Pattern)
	}
	return vars, order
}

func (g *gen) genValidate(out *bytes.Buffer) error {
	var body, entries bytes.Buffer
	b := &body
	needSort := false
	vars, order := g.patternVars()
	imports := []string{`"github.com/coffer/coffer/internal/api/awsproto"`}
	if len(order) > 0 {
		imports = append(imports, `"regexp"`)
	}
	defer func() {
		fmt.Fprintf(out, "package %s\n\n", g.pkg)
		if needSort {
			imports = append(imports, `"maps"`, `"slices"`)
		}
		writeImports(out, imports)
		out.Write(body.Bytes())
		out.Write(entries.Bytes())
	}()
	if len(order) > 0 {
		b.WriteString("// Patterns of the model, compiled once.\nvar (\n")
		for _, p := range order {
			fmt.Fprintf(b, "\t%s = regexp.MustCompile(%s)\n", vars[p], goRawOrQuoted(p))
		}
		b.WriteString(")\n\n")
	}
	if g.shape("MissingParameterValueException") != nil && g.shape("InvalidParameterValueException") != nil {
		b.WriteString(`// validationError turns a validation failure into the modeled exception.
func validationError(err error) error {
	fe, ok := err.(*awsproto.FieldError)
	if !ok {
		return err
	}
	switch fe.Kind {
	case awsproto.KindMissing:
		return &MissingParameterValueException{Message: fe.Message()}
	case awsproto.KindInvalid:
		return &InvalidParameterValueException{Message: fe.Message()}
	}
	return err
}

`)
	} else {
		b.WriteString(`// validationError returns the failure as is: the model has no exceptions
// for validation, so *awsproto.FieldError goes on the wire itself.
func validationError(err error) error { return err }

`)
	}
	// Validate for every operation input
	for _, op := range g.m.Ops {
		tn := g.opIn[op.Name]
		fmt.Fprintf(b, "// Validate checks v against the constraints of the model: required\n// members, lengths, ranges, patterns and enums, recursively. It returns a\n// *MissingParameterValueException or *InvalidParameterValueException.\nfunc (v *%s) Validate() error {\n", tn)
		if op.Input != "" && g.needsCheck[op.Input] {
			b.WriteString("\tif err := v.validate(); err != nil {\n\t\treturn validationError(err)\n\t}\n")
		}
		b.WriteString("\treturn nil\n}\n\n")
	}
	for _, name := range sortedKeys(g.m.Shapes) {
		if !g.inClosure[name] || !g.needsCheck[name] {
			continue
		}
		s := g.shape(name)
		sens := strconv.FormatBool(g.sensitive[name])
		switch s.Type {
		case "structure":
			g.genStructValidate(b, s)
		case "list":
			fmt.Fprintf(b, "func %s(v []%s) error {\n", helperName("validate", name), g.valueType(s.Member))
			if s.Min != nil || s.Max != nil {
				fmt.Fprintf(b, "\tif err := awsproto.CheckCount(\"\", len(v), %s, %s); err != nil {\n\t\treturn err\n\t}\n", boundArg(s.Min), boundArg(s.Max))
			}
			if g.needsCheck[s.Member] {
				b.WriteString("\tfor i := range v {\n")
				fmt.Fprintf(b, "\t\tif err := %s; err != nil {\n\t\t\treturn awsproto.AtIndex(err, i)\n\t\t}\n\t}\n", g.checkCall(s.Member, "v[i]", `""`))
			}
			b.WriteString("\treturn nil\n}\n\n")
		case "map":
			fmt.Fprintf(b, "func %s(v map[%s]%s) error {\n", helperName("validate", name), g.valueType(s.Key), g.valueType(s.Value))
			if s.Min != nil || s.Max != nil {
				fmt.Fprintf(b, "\tif err := awsproto.CheckCount(\"\", len(v), %s, %s); err != nil {\n\t\treturn err\n\t}\n", boundArg(s.Min), boundArg(s.Max))
			}
			if g.needsCheck[s.Key] || g.needsCheck[s.Value] {
				needSort = true
				entry := helperName("validate", name) + "Entry"
				// The first pass costs nothing on valid input; on an error the
				// sorted pass makes the reported entry deterministic.
				fmt.Fprintf(b, "\tfor k, x := range v {\n\t\tif %s(k, x) != nil {\n", entry)
				fmt.Fprintf(b, "\t\t\tfor _, k := range slices.Sorted(maps.Keys(v)) {\n\t\t\t\tif err := %s(k, v[k]); err != nil {\n\t\t\t\t\treturn err\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n", entry)
				fmt.Fprintf(&entries, "func %s(k %s, x %s) error {\n", entry, g.valueType(s.Key), g.valueType(s.Value))
				if g.needsCheck[s.Key] {
					fmt.Fprintf(&entries, "\tif err := %s; err != nil {\n\t\treturn awsproto.InvalidKey(err)\n\t}\n", g.checkCall(s.Key, "k", `""`))
				}
				if g.needsCheck[s.Value] {
					fmt.Fprintf(&entries, "\tif err := %s; err != nil {\n\t\treturn awsproto.AtKey(err, string(k), %s)\n\t}\n", g.checkCall(s.Value, "x", `""`), sens)
				}
				if !g.needsCheck[s.Key] {
					entries.WriteString("\t_ = k\n")
				}
				if !g.needsCheck[s.Value] {
					entries.WriteString("\t_ = x\n")
				}
				entries.WriteString("\treturn nil\n}\n\n")
			}
			b.WriteString("\treturn nil\n}\n\n")
		default:
			g.genScalarCheck(b, s, vars)
		}
	}
	return nil
}

// goRawOrQuoted quotes a pattern as a raw string when possible.
func goRawOrQuoted(s string) string {
	if !strings.Contains(s, "`") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// checkCall is an error expression validating value expr of shape name;
// member is a Go string expression naming the member ("" inside lists).
func (g *gen) checkCall(name, expr, member string) string {
	s := g.shape(name)
	switch s.Type {
	case "structure":
		return expr + ".validate()"
	case "list", "map":
		return helperName("validate", name) + "(" + expr + ")"
	}
	return helperName("check", name) + "(" + member + ", " + expr + ")"
}

func (g *gen) genScalarCheck(b *bytes.Buffer, s *Shape, vars map[string]string) {
	sens := strconv.FormatBool(g.sensitive[s.Name])
	fmt.Fprintf(b, "func %s(name string, v %s) error {\n", helperName("check", s.Name), g.valueType(s.Name))
	switch s.Type {
	case "string":
		str := "v"
		if len(s.Enum) > 0 {
			str = "string(v)"
		}
		if s.Min != nil || s.Max != nil {
			fmt.Fprintf(b, "\tif err := awsproto.CheckLen(name, %s, %s, %s, %s); err != nil {\n\t\treturn err\n\t}\n", str, boundArg(s.Min), boundArg(s.Max), sens)
		}
		if s.Pattern != "" {
			fmt.Fprintf(b, "\tif err := awsproto.CheckPattern(name, %s, %s, %s); err != nil {\n\t\treturn err\n\t}\n", str, vars[s.Pattern], sens)
		}
		if len(s.Enum) > 0 {
			fmt.Fprintf(b, "\tif !v.IsValid() {\n\t\treturn awsproto.InvalidEnum(name, string(v), %s, %q)\n\t}\n", sens, strings.Join(s.Enum, ", "))
		}
	case "integer", "long":
		fmt.Fprintf(b, "\treturn awsproto.CheckRange(name, int64(v), %s, %s)\n}\n\n", boundArg(s.Min), boundArg(s.Max))
		return
	case "double", "float":
		var lo, hi float64
		if s.Min != nil {
			lo = s.Min.f
		}
		if s.Max != nil {
			hi = s.Max.f
		}
		fmt.Fprintf(b, "\treturn awsproto.CheckFloatRange(name, v, %v, %v, %v, %v)\n}\n\n", lo, hi, s.Min != nil, s.Max != nil)
		return
	default:
		// booleans and timestamps carry no constraints apigen knows.
		b.WriteString("\t_ = name\n\t_ = v\n")
	}
	b.WriteString("\treturn nil\n}\n\n")
}

func (g *gen) genStructValidate(b *bytes.Buffer, s *Shape) {
	tn := goName(s.Name)
	fmt.Fprintf(b, "func (v *%s) validate() error {\n", tn)
	for _, r := range s.Required {
		mb := s.MemberNamed(r)
		fn := goName(mb.Name)
		ms := g.shape(mb.Shape)
		cond := "v." + fn + " == nil"
		switch {
		case len(ms.Enum) > 0:
			cond = "v." + fn + " == \"\""
		case ms.Type == "string":
			// AWS answers MissingParameterValueException for a required
			// member that is present but empty, as for an absent one.
			cond = "v." + fn + " == nil || *v." + fn + " == \"\""
		}
		fmt.Fprintf(b, "\tif %s {\n\t\treturn awsproto.MissingError(%q)\n\t}\n", cond, mb.Name)
	}
	for _, mb := range s.Members {
		if !g.needsCheck[mb.Shape] {
			continue
		}
		fn := goName(mb.Name)
		ms := g.shape(mb.Shape)
		name := strconv.Quote(mb.Name)
		switch {
		case ms.Type == "structure":
			fmt.Fprintf(b, "\tif v.%s != nil {\n\t\tif err := v.%s.validate(); err != nil {\n\t\t\treturn awsproto.AtMember(err, %s)\n\t\t}\n\t}\n", fn, fn, name)
		case ms.Type == "list" || ms.Type == "map":
			fmt.Fprintf(b, "\tif v.%s != nil {\n\t\tif err := %s; err != nil {\n\t\t\treturn awsproto.AtMember(err, %s)\n\t\t}\n\t}\n", fn, g.checkCall(mb.Shape, "v."+fn, ""), name)
		case len(ms.Enum) > 0:
			fmt.Fprintf(b, "\tif v.%s != \"\" {\n\t\tif err := %s; err != nil {\n\t\t\treturn err\n\t\t}\n\t}\n", fn, g.checkCall(mb.Shape, "v."+fn, name))
		case g.isPtrField(mb.Shape):
			fmt.Fprintf(b, "\tif v.%s != nil {\n\t\tif err := %s; err != nil {\n\t\t\treturn err\n\t\t}\n\t}\n", fn, g.checkCall(mb.Shape, "*v."+fn, name))
		default:
			fmt.Fprintf(b, "\tif err := %s; err != nil {\n\t\treturn err\n\t}\n", g.checkCall(mb.Shape, "v."+fn, name))
		}
	}
	b.WriteString("\treturn nil\n}\n\n")
}
