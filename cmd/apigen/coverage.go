package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Coverage scans the Go package in dir for methods of typeName whose names
// are operations of m and returns the source of a file declaring
// Implemented. skip names the output file, which is not scanned.
func Coverage(m *Model, dir, typeName, skip string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	pkg := ""
	implemented := map[string]bool{}
	typeFound := false
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || name == skip {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if pkg == "" {
			pkg = f.Name.Name
		} else if f.Name.Name != pkg {
			return nil, fmt.Errorf("%s: package %s, but other files are package %s", name, f.Name.Name, pkg)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if ts, ok := spec.(*ast.TypeSpec); ok && ts.Name.Name == typeName {
						typeFound = true
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil || len(d.Recv.List) != 1 || receiverType(d.Recv.List[0].Type) != typeName {
					continue
				}
				if m.Op(d.Name.Name) != nil {
					implemented[d.Name.Name] = true
				}
			}
		}
	}
	if pkg == "" {
		return nil, fmt.Errorf("%s: no Go files", dir)
	}
	if !typeFound {
		return nil, fmt.Errorf("%s: package %s declares no type %s", dir, pkg, typeName)
	}
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, "package %s\n\n", pkg)
	n := len(implemented)
	fmt.Fprintf(&b, "// Implemented lists every operation of the AWS Backup model (%d); true when\n// %s implements it (%d of %d).\n", len(m.Ops), typeName, n, len(m.Ops))
	b.WriteString("var Implemented = map[string]bool{\n")
	names := make([]string, 0, len(m.Ops))
	for _, op := range m.Ops {
		names = append(names, op.Name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "\t%q: %v,\n", name, implemented[name])
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

// receiverType returns the name of a receiver's type: T, *T, T[X], *T[X].
func receiverType(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}
