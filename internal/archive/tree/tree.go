package tree

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ID identifies a blob in a repository.
type ID [32]byte

// String returns the ID in lower-case hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 bytes of the ID in hex, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:8]) }

// IsZero reports whether the ID is all zero (no blob).
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses a 64-character hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("tree: invalid ID %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("tree: invalid ID %q: %w", s, err)
	}
	return id, nil
}

// BlobType tells data blobs from tree blobs.
type BlobType uint8

// Blob types.
const (
	DataBlob BlobType = 1
	TreeBlob BlobType = 2
)

// String returns "data" or "tree".
func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

// Ref is one blob a tree blob points at.
type Ref struct {
	Type BlobType
	ID   ID
}

// Type is the kind of a Node.
type Type uint8

// Node types.
const (
	File     Type = 1
	Dir      Type = 2
	Symlink  Type = 3
	Hardlink Type = 4
)

// String names the node type.
func (t Type) String() string {
	switch t {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	case Hardlink:
		return "hardlink"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Xattr is one extended attribute.
type Xattr struct {
	Name  string
	Value []byte
}

// Extent is one piece of file content: a data chunk or a hole.
type Extent struct {
	// ID of the DataBlob; zero for a hole.
	ID ID
	// Length in bytes of the chunk's plaintext or of the hole.
	Length int64
	// Hole marks a run of zeros that is not stored.
	Hole bool
}

// Node is one directory entry.
type Node struct {
	Name  string // any bytes except '/' and NUL; not "." or ".."
	Type  Type
	Mode  uint32 // permission bits plus setuid, setgid, sticky (07777)
	UID   uint32
	GID   uint32
	User  string // owner name at backup time, "" if unknown
	Group string
	Mtime int64 // Unix nanoseconds
	Atime int64
	Ctime int64
	Size  int64 // file size; symlink target length; 0 for directories
	Dev   uint64
	Inode uint64
	Links uint64
	// Xattrs sorted by name.
	Xattrs []Xattr
	// Target: the symlink's target, or for a Hardlink the path from the
	// snapshot root of the first name of the inode.
	Target string
	// Subtree: the tree blob of a directory.
	Subtree ID
	// Content: a file's extents in order; their lengths add up to Size.
	Content []Extent
}

// Tree is one directory's entries, sorted by Name.
type Tree struct {
	Nodes []Node
}

// Sort orders the nodes by name.
func (t *Tree) Sort() {
	sort.Slice(t.Nodes, func(i, j int) bool { return t.Nodes[i].Name < t.Nodes[j].Name })
}

// Find returns the node with the given name.
func (t *Tree) Find(name string) (*Node, bool) {
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= name })
	if i < len(t.Nodes) && t.Nodes[i].Name == name {
		return &t.Nodes[i], true
	}
	return nil, false
}

// ErrFormat reports a tree blob that cannot be decoded or breaks the rules
// of the format (unsorted, bad names, inconsistent content lengths).
var ErrFormat = errors.New("tree: malformed tree blob")

// ValidName reports whether name may be a node name.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// Validate checks the rules of the format.
func (t *Tree) Validate() error {
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if !ValidName(n.Name) {
			return fmt.Errorf("%w: invalid name %q", ErrFormat, n.Name)
		}
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return fmt.Errorf("%w: names not sorted or not unique at %q", ErrFormat, n.Name)
		}
		switch n.Type {
		case File:
			var sum int64
			for _, e := range n.Content {
				if e.Length < 0 {
					return fmt.Errorf("%w: negative extent length in %q", ErrFormat, n.Name)
				}
				sum += e.Length
			}
			if sum != n.Size {
				return fmt.Errorf("%w: %q: content adds up to %d bytes, size is %d", ErrFormat, n.Name, sum, n.Size)
			}
		case Dir:
			if n.Subtree.IsZero() {
				return fmt.Errorf("%w: directory %q without subtree", ErrFormat, n.Name)
			}
		case Symlink:
		case Hardlink:
			if n.Target == "" {
				return fmt.Errorf("%w: hard link %q without target", ErrFormat, n.Name)
			}
		default:
			return fmt.Errorf("%w: %q has unknown type %d", ErrFormat, n.Name, n.Type)
		}
	}
	return nil
}

const magic = "CTR1"

// field mask bits
const (
	fMode = 1 << iota
	fUID
	fGID
	fUser
	fGroup
	fMtime
	fAtime
	fCtime
	fSize
	fDev
	fInode
	fLinks
	fXattrs
	fTarget
	fSubtree
	fContent
)

// Encode returns the binary encoding of t. The nodes must be sorted
// (Validate passes); Encode does not reorder them, so equal trees encode to
// equal bytes.
func Encode(t *Tree) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	size := len(magic) + binary.MaxVarintLen64
	for i := range t.Nodes {
		size += 64 + len(t.Nodes[i].Name) + len(t.Nodes[i].Target) + len(t.Nodes[i].User) + len(t.Nodes[i].Group) + 42*len(t.Nodes[i].Content)
	}
	b := make([]byte, 0, size)
	b = append(b, magic...)
	b = binary.AppendUvarint(b, uint64(len(t.Nodes)))
	for i := range t.Nodes {
		b = appendNode(b, &t.Nodes[i])
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendNode(b []byte, n *Node) []byte {
	var m uint64
	if n.Mode != 0 {
		m |= fMode
	}
	if n.UID != 0 {
		m |= fUID
	}
	if n.GID != 0 {
		m |= fGID
	}
	if n.User != "" {
		m |= fUser
	}
	if n.Group != "" {
		m |= fGroup
	}
	if n.Mtime != 0 {
		m |= fMtime
	}
	if n.Atime != 0 {
		m |= fAtime
	}
	if n.Ctime != 0 {
		m |= fCtime
	}
	if n.Size != 0 {
		m |= fSize
	}
	if n.Dev != 0 {
		m |= fDev
	}
	if n.Inode != 0 {
		m |= fInode
	}
	if n.Links != 0 {
		m |= fLinks
	}
	if len(n.Xattrs) != 0 {
		m |= fXattrs
	}
	if n.Target != "" {
		m |= fTarget
	}
	if !n.Subtree.IsZero() {
		m |= fSubtree
	}
	if len(n.Content) != 0 {
		m |= fContent
	}
	b = append(b, byte(n.Type))
	b = appendString(b, n.Name)
	b = binary.AppendUvarint(b, m)
	if m&fMode != 0 {
		b = binary.AppendUvarint(b, uint64(n.Mode))
	}
	if m&fUID != 0 {
		b = binary.AppendUvarint(b, uint64(n.UID))
	}
	if m&fGID != 0 {
		b = binary.AppendUvarint(b, uint64(n.GID))
	}
	if m&fUser != 0 {
		b = appendString(b, n.User)
	}
	if m&fGroup != 0 {
		b = appendString(b, n.Group)
	}
	if m&fMtime != 0 {
		b = binary.AppendVarint(b, n.Mtime)
	}
	if m&fAtime != 0 {
		b = binary.AppendVarint(b, n.Atime)
	}
	if m&fCtime != 0 {
		b = binary.AppendVarint(b, n.Ctime)
	}
	if m&fSize != 0 {
		b = binary.AppendVarint(b, n.Size)
	}
	if m&fDev != 0 {
		b = binary.AppendUvarint(b, n.Dev)
	}
	if m&fInode != 0 {
		b = binary.AppendUvarint(b, n.Inode)
	}
	if m&fLinks != 0 {
		b = binary.AppendUvarint(b, n.Links)
	}
	if m&fXattrs != 0 {
		b = binary.AppendUvarint(b, uint64(len(n.Xattrs)))
		for _, x := range n.Xattrs {
			b = appendString(b, x.Name)
			b = binary.AppendUvarint(b, uint64(len(x.Value)))
			b = append(b, x.Value...)
		}
	}
	if m&fTarget != 0 {
		b = appendString(b, n.Target)
	}
	if m&fSubtree != 0 {
		b = append(b, n.Subtree[:]...)
	}
	if m&fContent != 0 {
		b = binary.AppendUvarint(b, uint64(len(n.Content)))
		for _, e := range n.Content {
			// length<<1 | hole
			v := uint64(e.Length) << 1
			if e.Hole {
				b = binary.AppendUvarint(b, v|1)
				continue
			}
			b = binary.AppendUvarint(b, v)
			b = append(b, e.ID[:]...)
		}
	}
	return b
}

type decoder struct {
	b       []byte
	err     error
	strings map[string]string // owner names repeat: share one copy
}

func (d *decoder) intern(b []byte) string {
	if s, ok := d.strings[string(b)]; ok {
		return s
	}
	if d.strings == nil {
		d.strings = make(map[string]string)
	}
	s := string(b)
	if len(d.strings) < 1024 {
		d.strings[s] = s
	}
	return s
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", ErrFormat, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	l := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if l > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:l:l]
	d.b = d.b[l:]
	return v
}

func (d *decoder) id(what string) (id ID) {
	if d.err != nil {
		return id
	}
	if len(d.b) < len(id) {
		d.fail(what)
		return id
	}
	copy(id[:], d.b)
	d.b = d.b[len(id):]
	return id
}

// Decode parses a tree blob and validates it. The returned tree does not
// alias data except for xattr values, which it copies.
func Decode(data []byte) (*Tree, error) {
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, fmt.Errorf("%w: bad magic or unsupported version", ErrFormat)
	}
	d := &decoder{b: data[len(magic):]}
	count := d.uvarint("node count")
	if count > uint64(len(d.b)) { // every node takes at least 3 bytes
		return nil, fmt.Errorf("%w: node count %d exceeds blob size", ErrFormat, count)
	}
	t := &Tree{Nodes: make([]Node, count)}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if len(d.b) == 0 {
			d.fail("node")
			break
		}
		n.Type = Type(d.b[0])
		d.b = d.b[1:]
		n.Name = string(d.bytes("name"))
		m := d.uvarint("field mask")
		if m&fMode != 0 {
			n.Mode = uint32(d.uvarint("mode"))
		}
		if m&fUID != 0 {
			n.UID = uint32(d.uvarint("uid"))
		}
		if m&fGID != 0 {
			n.GID = uint32(d.uvarint("gid"))
		}
		if m&fUser != 0 {
			n.User = d.intern(d.bytes("user"))
		}
		if m&fGroup != 0 {
			n.Group = d.intern(d.bytes("group"))
		}
		if m&fMtime != 0 {
			n.Mtime = d.varint("mtime")
		}
		if m&fAtime != 0 {
			n.Atime = d.varint("atime")
		}
		if m&fCtime != 0 {
			n.Ctime = d.varint("ctime")
		}
		if m&fSize != 0 {
			n.Size = d.varint("size")
		}
		if m&fDev != 0 {
			n.Dev = d.uvarint("dev")
		}
		if m&fInode != 0 {
			n.Inode = d.uvarint("inode")
		}
		if m&fLinks != 0 {
			n.Links = d.uvarint("links")
		}
		if m&fXattrs != 0 {
			c := d.uvarint("xattr count")
			if c > uint64(len(d.b)) {
				d.fail("xattr count")
				break
			}
			n.Xattrs = make([]Xattr, c)
			for j := range n.Xattrs {
				n.Xattrs[j].Name = string(d.bytes("xattr name"))
				n.Xattrs[j].Value = append([]byte{}, d.bytes("xattr value")...)
			}
		}
		if m&fTarget != 0 {
			n.Target = string(d.bytes("target"))
		}
		if m&fSubtree != 0 {
			n.Subtree = d.id("subtree")
		}
		if m&fContent != 0 {
			c := d.uvarint("extent count")
			if c > uint64(len(d.b)) {
				d.fail("extent count")
				break
			}
			n.Content = make([]Extent, c)
			for j := range n.Content {
				v := d.uvarint("extent")
				if v>>1 > 1<<62 {
					d.fail("extent length")
				}
				n.Content[j].Length = int64(v >> 1)
				if v&1 == 1 {
					n.Content[j].Hole = true
				} else {
					n.Content[j].ID = d.id("extent id")
				}
			}
		}
		if m>>16 != 0 {
			d.fail("field mask (unknown fields)")
		}
		if d.err != nil {
			break
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(d.b))
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// Refs returns the blobs a tree blob references: subtrees (TreeBlob) and
// file content chunks (DataBlob), each once, in order of appearance. It is
// the hook the repository's check and garbage collection use.
func Refs(data []byte) ([]Ref, error) {
	t, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return t.Refs(), nil
}

// Refs returns the blobs the tree references, each once.
func (t *Tree) Refs() []Ref {
	var refs []Ref
	seen := make(map[Ref]struct{})
	add := func(r Ref) {
		if _, ok := seen[r]; !ok {
			seen[r] = struct{}{}
			refs = append(refs, r)
		}
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Type == Dir {
			add(Ref{Type: TreeBlob, ID: n.Subtree})
		}
		for _, e := range n.Content {
			if !e.Hole {
				add(Ref{Type: DataBlob, ID: e.ID})
			}
		}
	}
	return refs
}

// SplitPath splits a slash-separated path relative to a snapshot root into
// its names, rejecting absolute paths, empty names, "." and "..".
func SplitPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	if strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q is absolute; paths are relative to the snapshot root", p)
	}
	parts := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for _, s := range parts {
		if s == ".." {
			return nil, fmt.Errorf("path %q contains \"..\"", p)
		}
		if !ValidName(s) {
			return nil, fmt.Errorf("path %q has an invalid element %q", p, s)
		}
	}
	return parts, nil
}
