package awsproto

import (
	"fmt"
	"sort"
	"strings"
)

// MaxLabels is the most URI labels a route template may have.
const MaxLabels = 8

// Route is the HTTP binding of one operation, from the model's
// http.method and http.requestUri.
type Route struct {
	Method string
	// URI is the request URI template, e.g.
	// "/backup-vaults/{backupVaultName}" or "/x/{name}/team?delete".
	URI string
}

// Match is the result of routing one request.
type Match struct {
	// Route is the index of the matched route in the table given to
	// NewRouter.
	Route int
	// Labels holds the raw (still percent-encoded) path segments bound to
	// the template's labels, in template order.
	Labels  [MaxLabels]string
	NLabels int
}

// Router maps method + escaped path + query to a route. Matching is done on
// the raw escaped path split into segments, so that labels holding
// percent-encoded ARNs ("arn%3Aaws%3A...%2F...") stay one segment; callers
// decode labels afterwards. A trailing slash is optional on both sides
// ("/copy-jobs" and "/copy-jobs/" are the same route path); at each segment
// a literal beats a label; a label never matches an empty segment. A query
// literal in the template ("?delete") must be present in the request.
type Router struct {
	root   *rnode
	routes []parsedRoute
}

type rnode struct {
	lit    map[string]*rnode
	label  *rnode
	leaves []int // route indexes ending here, query-constrained first
}

type parsedRoute struct {
	method     string
	path       string
	queryKey   string
	queryValue string
	hasQuery   bool
	nLabels    int
}

// NewRouter compiles a route table. It fails on malformed templates
// (greedy or partial labels, more than MaxLabels labels) and on two routes
// with the same method, path shape and query literal.
func NewRouter(routes []Route) (*Router, error) {
	rt := &Router{root: &rnode{}}
	seen := map[string]int{}
	for i, r := range routes {
		path, query, _ := strings.Cut(r.URI, "?")
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("route %d %s %s: URI must start with /", i, r.Method, r.URI)
		}
		pr := parsedRoute{method: r.Method, path: path}
		if query != "" {
			if strings.Contains(query, "&") {
				return nil, fmt.Errorf("route %d %s %s: only one query literal is supported", i, r.Method, r.URI)
			}
			pr.queryKey, pr.queryValue, _ = strings.Cut(query, "=")
			pr.hasQuery = true
		}
		n := rt.root
		shape := r.Method
		for _, seg := range splitPath(path) {
			if strings.ContainsAny(seg, "{}") {
				if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' || strings.ContainsAny(seg[1:len(seg)-1], "{}") {
					return nil, fmt.Errorf("route %d %s %s: partial label segment %q is not supported", i, r.Method, r.URI, seg)
				}
				if strings.HasSuffix(seg, "+}") {
					return nil, fmt.Errorf("route %d %s %s: greedy label %q is not supported", i, r.Method, r.URI, seg)
				}
				pr.nLabels++
				if pr.nLabels > MaxLabels {
					return nil, fmt.Errorf("route %d %s %s: more than %d labels", i, r.Method, r.URI, MaxLabels)
				}
				if n.label == nil {
					n.label = &rnode{}
				}
				n = n.label
				shape += "/{}"
				continue
			}
			if n.lit == nil {
				n.lit = map[string]*rnode{}
			}
			c := n.lit[seg]
			if c == nil {
				c = &rnode{}
				n.lit[seg] = c
			}
			n = c
			shape += "/" + seg
		}
		shape += "?" + query
		if j, dup := seen[shape]; dup {
			return nil, fmt.Errorf("routes %d and %d (%s %s) are ambiguous", j, i, r.Method, r.URI)
		}
		seen[shape] = i
		n.leaves = append(n.leaves, i)
		rt.routes = append(rt.routes, pr)
	}
	var sortLeaves func(n *rnode)
	sortLeaves = func(n *rnode) {
		sort.SliceStable(n.leaves, func(a, b int) bool {
			return rt.routes[n.leaves[a]].hasQuery && !rt.routes[n.leaves[b]].hasQuery
		})
		for _, c := range n.lit {
			sortLeaves(c)
		}
		if n.label != nil {
			sortLeaves(n.label)
		}
	}
	sortLeaves(rt.root)
	return rt, nil
}

// MustRouter is NewRouter for tables generated and checked at build time.
func MustRouter(routes []Route) *Router {
	rt, err := NewRouter(routes)
	if err != nil {
		panic("awsproto: invalid generated route table: " + err.Error())
	}
	return rt
}

// splitPath splits a path into segments after dropping the leading slash
// and one trailing slash.
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// Match routes a request. It returns 0 and fills m on success, 404 when no
// route's path matches, and 405 when a path matches but not with this
// method (and query literal).
func (rt *Router) Match(method, escapedPath, rawQuery string, m *Match) int {
	p, ok := trimPath(escapedPath)
	if !ok {
		return 404
	}
	pathMatched := false
	if rt.find(rt.root, p, p != "", m, 0, method, rawQuery, &pathMatched) {
		return 0
	}
	if pathMatched {
		return 405
	}
	return 404
}

// Allowed lists the methods of the routes whose path matches escapedPath,
// sorted, for an Allow header.
func (rt *Router) Allowed(escapedPath string) []string {
	p, ok := trimPath(escapedPath)
	if !ok {
		return nil
	}
	set := map[string]bool{}
	var m Match
	rt.collect(rt.root, p, p != "", &m, 0, set)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func trimPath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	p = p[1:]
	p = strings.TrimSuffix(p, "/")
	return p, true
}

// find walks the remaining path rest ("a/b/c"; more reports whether a
// segment remains, to tell "" from an empty segment).
func (rt *Router) find(n *rnode, rest string, more bool, m *Match, nl int, method, query string, pathMatched *bool) bool {
	if !more {
		for _, id := range n.leaves {
			*pathMatched = true
			r := &rt.routes[id]
			if r.method != method {
				continue
			}
			if r.hasQuery && !queryHas(query, r.queryKey, r.queryValue) {
				continue
			}
			m.Route = id
			m.NLabels = nl
			return true
		}
		return false
	}
	seg, after, found := strings.Cut(rest, "/")
	if c := n.lit[seg]; c != nil {
		if rt.find(c, after, found, m, nl, method, query, pathMatched) {
			return true
		}
	}
	if n.label != nil && seg != "" && nl < MaxLabels {
		m.Labels[nl] = seg
		if rt.find(n.label, after, found, m, nl+1, method, query, pathMatched) {
			return true
		}
	}
	return false
}

func (rt *Router) collect(n *rnode, rest string, more bool, m *Match, nl int, set map[string]bool) {
	if !more {
		for _, id := range n.leaves {
			set[rt.routes[id].method] = true
		}
		return
	}
	seg, after, found := strings.Cut(rest, "/")
	if c := n.lit[seg]; c != nil {
		rt.collect(c, after, found, m, nl, set)
	}
	if n.label != nil && seg != "" && nl < MaxLabels {
		rt.collect(n.label, after, found, m, nl+1, set)
	}
}

func queryHas(raw, key, value string) bool {
	for raw != "" {
		k, v, rest, err := NextQueryPair(raw)
		if err != nil {
			return false
		}
		if k == key && (value == "" || v == value) {
			return true
		}
		raw = rest
	}
	return false
}
