package main

import (
	"bytes"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
)

// tsFormat is the timestampFormat in force for a member.
func (g *gen) tsFormat(mb *Member) string {
	if mb != nil && mb.TimestampFormat != "" {
		return mb.TimestampFormat
	}
	if mb != nil {
		return g.shape(mb.Shape).TimestampFormat
	}
	return ""
}

// labelIndex returns the position of label in the URI template.
func labelIndex(uri, label string) int {
	path, _, _ := strings.Cut(uri, "?")
	for i, l := range labelRE.FindAllStringSubmatch(path, -1) {
		if l[1] == label {
			return i
		}
	}
	return -1
}

func (g *gen) bodyMembers(s *Shape) []*Member {
	var out []*Member
	for _, mb := range s.Members {
		if mb.Location == "" {
			out = append(out, mb)
		}
	}
	return out
}

func (g *gen) genBind(b *bytes.Buffer) error {
	fmt.Fprintf(b, "package %s\n\n", g.pkg)
	imports := []string{`"context"`, `"github.com/coffer/coffer/internal/api/awsproto"`}
	var body bytes.Buffer
	needStrconv := false
	for _, op := range g.m.Ops {
		in, out := g.opIn[op.Name], g.opOut[op.Name]
		fmt.Fprintf(&body, "func serve%s(ctx context.Context, svc Service, rq *awsproto.Request, rs *awsproto.Response) error {\n", op.Name)
		fmt.Fprintf(&body, "\tin := new(%s)\n", in)
		if op.Input != "" {
			body.WriteString("\tif err := in.bind(rq); err != nil {\n\t\treturn err\n\t}\n")
			body.WriteString("\tif err := in.Validate(); err != nil {\n\t\treturn err\n\t}\n")
		}
		if op.Output == "" {
			fmt.Fprintf(&body, "\tif _, err := svc.%s(ctx, in); err != nil {\n\t\treturn err\n\t}\n", op.Name)
			fmt.Fprintf(&body, "\trs.Status = %d\n\treturn nil\n}\n\n", op.ResponseCode)
			continue
		}
		fmt.Fprintf(&body, "\tout, err := svc.%s(ctx, in)\n\tif err != nil {\n\t\treturn err\n\t}\n", op.Name)
		fmt.Fprintf(&body, "\trs.Status = %d\n\tif out == nil {\n\t\tout = new(%s)\n\t}\n\tout.writeResponse(rs)\n\treturn nil\n}\n\n", op.ResponseCode, out)
	}
	// input binders
	for _, op := range g.m.Ops {
		if op.Input == "" {
			continue
		}
		s := g.shape(op.Input)
		tn := goName(op.Input)
		fmt.Fprintf(&body, "// bind reads the request of %s into v.\nfunc (v *%s) bind(rq *awsproto.Request) error {\n", op.Name, tn)
		var labels, query, headers []*Member
		for _, mb := range s.Members {
			switch mb.Location {
			case "uri":
				labels = append(labels, mb)
			case "querystring":
				query = append(query, mb)
			case "header":
				headers = append(headers, mb)
			}
		}
		plainLabels := 0
		for _, mb := range labels {
			if ms := g.shape(mb.Shape); ms.Type == "string" && len(ms.Enum) == 0 {
				plainLabels++
			}
		}
		if plainLabels > 0 {
			body.WriteString("\tvar err error\n")
		}
		for _, mb := range labels {
			idx := labelIndex(op.RequestURI, mb.WireName())
			fn := goName(mb.Name)
			ms := g.shape(mb.Shape)
			if ms.Type == "string" && len(ms.Enum) == 0 {
				fmt.Fprintf(&body, "\tif v.%s, err = rq.Label(%d, %q); err != nil {\n\t\treturn err\n\t}\n", fn, idx, mb.Name)
				continue
			}
			fmt.Fprintf(&body, "\tif x, err := rq.Label(%d, %q); err != nil {\n\t\treturn err\n\t} else if x != nil {\n", idx, mb.Name)
			g.emitParam(&body, mb, "*x", mb.WireName(), "awsproto.FormatISO", "\t\t")
			body.WriteString("\t}\n")
		}
		if len(query) > 0 {
			body.WriteString("\tfor q := rq.HTTP.URL.RawQuery; q != \"\"; {\n\t\tkey, val, rest, err := awsproto.NextQueryPair(q)\n\t\tif err != nil {\n\t\t\treturn err\n\t\t}\n\t\tq = rest\n\t\tswitch key {\n")
			for _, mb := range query {
				fmt.Fprintf(&body, "\t\tcase %q:\n", mb.WireName())
				g.emitParam(&body, mb, "val", mb.WireName(), "awsproto.FormatISO", "\t\t\t")
			}
			body.WriteString("\t\t}\n\t}\n")
		}
		for _, mb := range headers {
			canon := textproto.CanonicalMIMEHeaderKey(mb.WireName())
			ms := g.shape(mb.Shape)
			if ms.Type == "list" {
				fmt.Fprintf(&body, "\tfor _, hv := range rq.HTTP.Header[%q] {\n\t\tfor _, val := range awsproto.SplitHeaderList(hv) {\n", canon)
				g.emitParam(&body, mb, "val", mb.WireName(), "awsproto.FormatRFC822", "\t\t\t")
				body.WriteString("\t\t}\n\t}\n")
				continue
			}
			fmt.Fprintf(&body, "\tif hv := rq.HTTP.Header[%q]; len(hv) > 0 {\n\t\tval := hv[0]\n", canon)
			g.emitParam(&body, mb, "val", mb.WireName(), "awsproto.FormatRFC822", "\t\t")
			body.WriteString("\t}\n")
		}
		if len(g.bodyMembers(s)) > 0 {
			body.WriteString(`	if len(rq.Body) > 0 {
		var d awsproto.Decoder
		d.Reset(rq.Body)
		if !d.Empty() {
			if !d.Null() {
				if err := v.decodeJSON(&d); err != nil {
					return err
				}
			}
			if !d.AtEnd() {
				return awsproto.TrailingData()
			}
		}
	}
`)
		}
		body.WriteString("\treturn nil\n}\n\n")
	}
	// output writers
	for _, op := range g.m.Ops {
		if op.Output == "" {
			continue
		}
		s := g.shape(op.Output)
		tn := goName(op.Output)
		fmt.Fprintf(&body, "// writeResponse encodes v as the response of %s.\nfunc (v *%s) writeResponse(rs *awsproto.Response) {\n", op.Name, tn)
		for _, mb := range s.Members {
			fn := goName(mb.Name)
			ms := g.shape(mb.Shape)
			switch mb.Location {
			case "statusCode":
				fmt.Fprintf(&body, "\tif v.%s != nil {\n\t\trs.Status = int(*v.%s)\n\t}\n", fn, fn)
			case "header":
				canon := textproto.CanonicalMIMEHeaderKey(mb.WireName())
				needStrconv = needStrconv || ms.Type != "string" && ms.Type != "timestamp"
				if len(ms.Enum) > 0 {
					fmt.Fprintf(&body, "\tif v.%s != \"\" {\n\t\trs.Header[%q] = []string{string(v.%s)}\n\t}\n", fn, canon, fn)
				} else {
					fmt.Fprintf(&body, "\tif v.%s != nil {\n\t\trs.Header[%q] = []string{%s}\n\t}\n", fn, canon, g.formatParam(ms, "*v."+fn, g.tsFormat(mb), "awsproto.FormatRFC822"))
				}
			}
		}
		if len(g.bodyMembers(s)) > 0 {
			body.WriteString("\trs.Body = v.appendJSON(rs.Body)\n")
		} else {
			body.WriteString("\trs.Body = append(rs.Body, \"{}\"...)\n")
		}
		body.WriteString("}\n\n")
	}
	if needStrconv {
		imports = append(imports, `"strconv"`)
	}
	writeImports(b, imports)
	b.Write(body.Bytes())
	return nil
}

// formatParam renders a scalar as a header value.
func (g *gen) formatParam(s *Shape, expr, tsFormat, def string) string {
	switch s.Type {
	case "string":
		return expr
	case "integer":
		return "strconv.FormatInt(int64(" + expr + "), 10)"
	case "long":
		return "strconv.FormatInt(" + expr + ", 10)"
	case "boolean":
		return "strconv.FormatBool(" + expr + ")"
	case "double", "float":
		return "strconv.FormatFloat(" + expr + ", 'g', -1, 64)"
	case "timestamp":
		return "awsproto.FormatTimestamp(" + expr + ", " + strconv.Quote(tsFormat) + ", " + def + ")"
	}
	panic("formatParam: " + s.Type)
}

// emitParam emits code that parses the string expression src into member
// mb (scalar or list of scalars). The first occurrence of a scalar wins;
// list members collect every occurrence.
func (g *gen) emitParam(b *bytes.Buffer, mb *Member, src, wire, defFormat, ind string) {
	fn := "v." + goName(mb.Name)
	ms := g.shape(mb.Shape)
	isList := ms.Type == "list"
	es := ms
	if isList {
		es = g.shape(ms.Member)
	}
	var parse string // expression yielding (x, err)
	switch es.Type {
	case "string":
		parse = ""
	case "integer":
		parse = fmt.Sprintf("awsproto.ParseInt32Param(%q, %q, %s)", mb.Name, wire, src)
	case "long":
		parse = fmt.Sprintf("awsproto.ParseInt64Param(%q, %q, %s)", mb.Name, wire, src)
	case "boolean":
		parse = fmt.Sprintf("awsproto.ParseBoolParam(%q, %q, %s)", mb.Name, wire, src)
	case "double", "float":
		parse = fmt.Sprintf("awsproto.ParseFloat64Param(%q, %q, %s)", mb.Name, wire, src)
	case "timestamp":
		parse = fmt.Sprintf("awsproto.ParseTimeParam(%q, %q, %s, %q, %s)", mb.Name, wire, src, g.tsFormat(mb), defFormat)
	}
	conv := src
	if es.Type == "string" && len(es.Enum) > 0 {
		conv = goName(es.Name) + "(" + src + ")"
	}
	if isList {
		if parse == "" {
			fmt.Fprintf(b, "%s%s = append(%s, %s)\n", ind, fn, fn, conv)
			return
		}
		fmt.Fprintf(b, "%sx, err := %s\n%sif err != nil {\n%s\treturn err\n%s}\n%s%s = append(%s, x)\n", ind, parse, ind, ind, ind, ind, fn, fn)
		return
	}
	if es.Type == "string" && len(es.Enum) > 0 {
		fmt.Fprintf(b, "%sif %s == \"\" {\n%s\t%s = %s\n%s}\n", ind, fn, ind, fn, conv, ind)
		return
	}
	if parse == "" {
		fmt.Fprintf(b, "%sif %s == nil {\n%s\tx := %s\n%s\t%s = &x\n%s}\n", ind, fn, ind, src, ind, fn, ind)
		return
	}
	fmt.Fprintf(b, "%sif %s == nil {\n%s\tx, err := %s\n%s\tif err != nil {\n%s\t\treturn err\n%s\t}\n%s\t%s = &x\n%s}\n",
		ind, fn, ind, parse, ind, ind, ind, ind, fn, ind)
}

// decodeCall is an expression of type (T, error) reading a value of shape
// name (not a structure) from d.
func (g *gen) decodeCall(name string, mb *Member) string {
	s := g.shape(name)
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			return "awsproto.StringAs[" + goName(name) + "](d)"
		}
		return "d.String()"
	case "integer":
		return "d.Int32()"
	case "long":
		return "d.Int64()"
	case "boolean":
		return "d.Bool()"
	case "double", "float":
		return "d.Float64()"
	case "timestamp":
		f := s.TimestampFormat
		if mb != nil && mb.TimestampFormat != "" {
			f = mb.TimestampFormat
		}
		if f == "" || f == "unixTimestamp" {
			return "d.Timestamp()"
		}
		return "d.TimestampFormatted(" + strconv.Quote(f) + ")"
	case "document":
		return "d.Raw()"
	case "list", "map":
		return helperName("decode", name) + "(d)"
	}
	panic("decodeCall: " + s.Type)
}

// appendCall is an expression appending value expr of shape name to b.
// Structures need an addressable expr.
func (g *gen) appendCall(name, expr string, mb *Member) string {
	s := g.shape(name)
	switch s.Type {
	case "structure":
		return expr + ".appendJSON(b)"
	case "string":
		if len(s.Enum) > 0 {
			return "awsproto.AppendString(b, string(" + expr + "))"
		}
		return "awsproto.AppendString(b, " + expr + ")"
	case "integer":
		return "awsproto.AppendInt(b, int64(" + expr + "))"
	case "long":
		return "awsproto.AppendInt(b, " + expr + ")"
	case "boolean":
		return "awsproto.AppendBool(b, " + expr + ")"
	case "double", "float":
		return "awsproto.AppendFloat(b, " + expr + ")"
	case "timestamp":
		f := s.TimestampFormat
		if mb != nil && mb.TimestampFormat != "" {
			f = mb.TimestampFormat
		}
		if f == "" || f == "unixTimestamp" {
			return "awsproto.AppendTimestamp(b, " + expr + ")"
		}
		return "awsproto.AppendTimestampFormatted(b, " + expr + ", " + strconv.Quote(f) + ")"
	case "document":
		return "awsproto.AppendRaw(b, " + expr + ")"
	case "list", "map":
		return helperName("append", name) + "(b, " + expr + ")"
	}
	panic("appendCall: " + s.Type)
}

func (g *gen) genJSON(b *bytes.Buffer) error {
	fmt.Fprintf(b, "package %s\n\n", g.pkg)
	var body bytes.Buffer
	needSlices := false
	names := sortedKeys(g.m.Shapes)
	// decoders
	for _, name := range names {
		if !g.inClosure[name] {
			continue
		}
		s := g.shape(name)
		switch s.Type {
		case "structure":
			g.genStructDecoder(&body, s)
		case "list":
			et := g.valueType(s.Member)
			fmt.Fprintf(&body, "func %s(d *awsproto.Decoder) ([]%s, error) {\n", helperName("decode", name), et)
			fmt.Fprintf(&body, "\tif err := d.BeginArray(); err != nil {\n\t\treturn nil, err\n\t}\n\tv := []%s{}\n", et)
			body.WriteString("\tfor i := 0; ; i++ {\n\t\tmore, err := d.NextElem(i == 0)\n\t\tif err != nil {\n\t\t\treturn nil, err\n\t\t}\n\t\tif !more {\n\t\t\treturn v, nil\n\t\t}\n")
			body.WriteString("\t\tif d.Null() {\n\t\t\treturn nil, awsproto.AtIndex(awsproto.SerializationError(\"\", \"null is not allowed in a list\"), i)\n\t\t}\n")
			if g.shape(s.Member).Type == "structure" {
				fmt.Fprintf(&body, "\t\tv = append(v, %s{})\n\t\tif err := v[i].decodeJSON(d); err != nil {\n\t\t\treturn nil, awsproto.AtIndex(err, i)\n\t\t}\n", et)
			} else {
				fmt.Fprintf(&body, "\t\tx, err := %s\n\t\tif err != nil {\n\t\t\treturn nil, awsproto.AtIndex(err, i)\n\t\t}\n\t\tv = append(v, x)\n", g.decodeCall(s.Member, nil))
			}
			body.WriteString("\t}\n}\n\n")
		case "map":
			kt, vt := g.valueType(s.Key), g.valueType(s.Value)
			sens := strconv.FormatBool(g.sensitive[name])
			fmt.Fprintf(&body, "func %s(d *awsproto.Decoder) (map[%s]%s, error) {\n", helperName("decode", name), kt, vt)
			fmt.Fprintf(&body, "\tif err := d.BeginObject(); err != nil {\n\t\treturn nil, err\n\t}\n\tv := map[%s]%s{}\n", kt, vt)
			body.WriteString("\tfor first := true; ; first = false {\n\t\tk, more, err := d.NextKey(first)\n\t\tif err != nil {\n\t\t\treturn nil, err\n\t\t}\n\t\tif !more {\n\t\t\treturn v, nil\n\t\t}\n")
			fmt.Fprintf(&body, "\t\tkey := %s(k)\n", kt)
			fmt.Fprintf(&body, "\t\tif d.Null() {\n\t\t\treturn nil, awsproto.AtKey(awsproto.SerializationError(\"\", \"null is not allowed as a map value\"), string(key), %s)\n\t\t}\n", sens)
			if g.shape(s.Value).Type == "structure" {
				fmt.Fprintf(&body, "\t\tvar x %s\n\t\tif err := x.decodeJSON(d); err != nil {\n\t\t\treturn nil, awsproto.AtKey(err, string(key), %s)\n\t\t}\n\t\tv[key] = x\n", vt, sens)
			} else {
				fmt.Fprintf(&body, "\t\tx, err := %s\n\t\tif err != nil {\n\t\t\treturn nil, awsproto.AtKey(err, string(key), %s)\n\t\t}\n\t\tv[key] = x\n", g.decodeCall(s.Value, nil), sens)
			}
			body.WriteString("\t}\n}\n\n")
		}
	}
	// encoders
	for _, name := range names {
		if !g.outClosure[name] {
			continue
		}
		s := g.shape(name)
		switch s.Type {
		case "structure":
			g.genStructEncoder(&body, s)
		case "list":
			fmt.Fprintf(&body, "func %s(b []byte, v []%s) []byte {\n\tb = append(b, '[')\n\tfor i := range v {\n", helperName("append", name), g.valueType(s.Member))
			fmt.Fprintf(&body, "\t\tb = %s\n\t\tb = append(b, ',')\n\t}\n\treturn awsproto.CloseArray(b)\n}\n\n", g.appendCall(s.Member, "v[i]", nil))
		case "map":
			needSlices = true
			fmt.Fprintf(&body, "func %s(b []byte, v map[%s]%s) []byte {\n\tb = append(b, '{')\n", helperName("append", name), g.valueType(s.Key), g.valueType(s.Value))
			body.WriteString("\tfor _, k := range slices.Sorted(maps.Keys(v)) {\n\t\tx := v[k]\n")
			body.WriteString("\t\tb = awsproto.AppendString(b, string(k))\n\t\tb = append(b, ':')\n")
			fmt.Fprintf(&body, "\t\tb = %s\n\t\tb = append(b, ',')\n\t}\n\treturn awsproto.CloseObject(b)\n}\n\n", g.appendCall(s.Value, "x", nil))
		}
	}
	imports := []string{`"github.com/coffer/coffer/internal/api/awsproto"`}
	if needSlices {
		imports = append(imports, `"maps"`, `"slices"`)
	}
	writeImports(b, imports)
	b.Write(body.Bytes())
	return nil
}

func (g *gen) genStructDecoder(b *bytes.Buffer, s *Shape) {
	tn := goName(s.Name)
	members := g.bodyMembers(s)
	fmt.Fprintf(b, "func (v *%s) decodeJSON(d *awsproto.Decoder) error {\n", tn)
	b.WriteString("\tif err := d.BeginObject(); err != nil {\n\t\treturn err\n\t}\n")
	b.WriteString("\tfor first := true; ; first = false {\n\t\tk, more, err := d.NextKey(first)\n\t\tif err != nil {\n\t\t\treturn err\n\t\t}\n\t\tif !more {\n\t\t\treturn nil\n\t\t}\n")
	if len(members) == 0 {
		b.WriteString("\t\t_ = k\n\t\tif err := d.Skip(); err != nil {\n\t\t\treturn err\n\t\t}\n\t}\n}\n\n")
		return
	}
	b.WriteString("\t\tswitch string(k) {\n")
	for _, mb := range members {
		fn := goName(mb.Name)
		ms := g.shape(mb.Shape)
		fmt.Fprintf(b, "\t\tcase %q:\n\t\t\tif d.Null() {\n\t\t\t\tcontinue\n\t\t\t}\n", mb.WireName())
		wrap := fmt.Sprintf("awsproto.AtMember(err, %q)", mb.Name)
		switch {
		case ms.Type == "structure":
			fmt.Fprintf(b, "\t\t\tv.%s = new(%s)\n\t\t\tif err := v.%s.decodeJSON(d); err != nil {\n\t\t\t\treturn %s\n\t\t\t}\n", fn, goName(ms.Name), fn, wrap)
		case g.isPtrField(mb.Shape):
			fmt.Fprintf(b, "\t\t\tx, err := %s\n\t\t\tif err != nil {\n\t\t\t\treturn %s\n\t\t\t}\n\t\t\tv.%s = &x\n", g.decodeCall(mb.Shape, mb), wrap, fn)
		default:
			fmt.Fprintf(b, "\t\t\tif v.%s, err = %s; err != nil {\n\t\t\t\treturn %s\n\t\t\t}\n", fn, g.decodeCall(mb.Shape, mb), wrap)
		}
	}
	b.WriteString("\t\tdefault:\n\t\t\tif err := d.Skip(); err != nil {\n\t\t\t\treturn err\n\t\t\t}\n\t\t}\n\t}\n}\n\n")
}

func (g *gen) genStructEncoder(b *bytes.Buffer, s *Shape) {
	tn := goName(s.Name)
	fmt.Fprintf(b, "func (v *%s) appendJSON(b []byte) []byte {\n\tb = append(b, '{')\n", tn)
	for _, mb := range g.bodyMembers(s) {
		fn := goName(mb.Name)
		ms := g.shape(mb.Shape)
		key := strconv.Quote(strconv.Quote(mb.WireName()) + ":")
		cond := "v." + fn + " != nil"
		expr := "v." + fn
		switch {
		case ms.Type == "structure":
		case len(ms.Enum) > 0:
			cond = "v." + fn + " != \"\""
		case g.isPtrField(mb.Shape):
			expr = "*v." + fn
		}
		fmt.Fprintf(b, "\tif %s {\n\t\tb = append(b, %s...)\n\t\tb = %s\n\t\tb = append(b, ',')\n\t}\n", cond, key, g.appendCall(mb.Shape, expr, mb))
	}
	b.WriteString("\treturn awsproto.CloseObject(b)\n}\n\n")
}
