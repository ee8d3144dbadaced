package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
)

// This file checks a state file's bytes before bbolt sees them. bbolt
// trusts its file: a damaged page makes it panic, sometimes in a goroutine
// of its own (where no recover can reach), fault on memory past the end of
// the file, or loop. So the B+tree is walked here first, by plain bounds-
// checked parsing of bbolt's page format (go.etcd.io/bbolt/internal/common),
// and bbolt opens only a file whose structure holds.

const (
	boltMagic   = 0xED0CDAED
	boltVersion = 2

	pageHeaderSize  = 16 // id u64, flags u16, count u16, overflow u32
	branchElemSize  = 16 // pos u32, ksize u32, pgid u64
	leafElemSize    = 16 // flags u32, pos u32, ksize u32, vsize u32
	inBucketSize    = 16 // root pgid u64, sequence u64
	metaSize        = 64 // up to and including the checksum
	metaSumLen      = 56 // the checksum covers the meta up to itself
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	metaPageFlag    = 0x04
	freelistFlag    = 0x10
	bucketLeafFlag  = 0x01
	noFreelist      = ^uint64(0)
	maxBucketDepth  = 16
	maxTreeDepth    = 64
	maxSanePageSize = 1 << 20
)

var le = binary.LittleEndian

// boltMeta is the part of a meta page the checks use.
type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high-water mark: pages [0, pgid) are in use or free
	txid     uint64
}

// parseMeta reads the meta page at off, or says why it cannot.
func parseMeta(b []byte, off int) (boltMeta, error) {
	if off < 0 || off+pageHeaderSize+metaSize > len(b) {
		return boltMeta{}, fmt.Errorf("meta page at byte %d is past the end of the file", off)
	}
	p := b[off:]
	m := p[pageHeaderSize:]
	if le.Uint32(m[0:]) != boltMagic {
		if off == 0 {
			return boltMeta{}, fmt.Errorf("it is not a bbolt file, or its first page is damaged (no bbolt magic number at byte 0)")
		}
		return boltMeta{}, fmt.Errorf("meta page at byte %d has no bbolt magic number", off)
	}
	if le.Uint16(p[8:]) != metaPageFlag {
		return boltMeta{}, fmt.Errorf("meta page at byte %d has page flags %#x", off, le.Uint16(p[8:]))
	}
	if v := le.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("meta page at byte %d has bbolt version %d, want %d", off, v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaSumLen])
	if h.Sum64() != le.Uint64(m[metaSumLen:]) {
		return boltMeta{}, fmt.Errorf("meta page at byte %d fails its checksum", off)
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, nil
}

// checkFile checks the structure of a whole bbolt file held in b and
// returns the meta bbolt would use. Both meta pages must be sound: bbolt
// would silently fall back to the older one, losing the last write.
func checkFile(b []byte) (boltMeta, error) {
	if len(b) == 0 {
		return boltMeta{}, fmt.Errorf("the file is empty (0 bytes)")
	}
	m0, err := parseMeta(b, 0)
	if err != nil {
		return boltMeta{}, err
	}
	ps := int(m0.pageSize)
	if ps < 1024 || ps > maxSanePageSize || ps&(ps-1) != 0 {
		return boltMeta{}, fmt.Errorf("meta page 0 gives an impossible page size %d", ps)
	}
	m1, err := parseMeta(b, ps)
	if err != nil {
		return boltMeta{}, err
	}
	if m1.pageSize != m0.pageSize {
		return boltMeta{}, fmt.Errorf("the meta pages disagree on the page size (%d, %d)", m0.pageSize, m1.pageSize)
	}
	// bbolt's own check asserts both meta pages' ids (and trips, in a
	// goroutine of its own, on a wrong one).
	for i := 0; i < 2; i++ {
		if got := le.Uint64(b[i*ps:]); got != uint64(i) {
			return boltMeta{}, fmt.Errorf("meta page %d says it is page %d", i, got)
		}
	}
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	if m.pgid < 3 || m.pgid > uint64(len(b)/ps) {
		return boltMeta{}, fmt.Errorf("the file holds %d pages but its meta says %d: it is truncated or damaged", len(b)/ps, m.pgid)
	}
	w := &walker{b: b, ps: ps, hwm: m.pgid, seen: map[uint64]bool{0: true, 1: true}}
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist); err != nil {
			return boltMeta{}, err
		}
	}
	if err := w.bucket(m.root, 0); err != nil {
		return boltMeta{}, err
	}
	return m, nil
}

type walker struct {
	b    []byte
	ps   int
	hwm  uint64
	seen map[uint64]bool
}

// page returns the bytes of page id and its overflow, after checking that
// it is in bounds, has the right id and is referenced once only.
func (w *walker) page(id uint64, what string) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, fmt.Errorf("%s refers to page %d, outside the file's pages 2..%d", what, id, w.hwm-1)
	}
	off := int(id) * w.ps
	hdr := w.b[off : off+pageHeaderSize]
	if got := le.Uint64(hdr); got != id {
		return nil, fmt.Errorf("page %d (%s) says it is page %d", id, what, got)
	}
	n := uint64(le.Uint32(hdr[12:])) + 1
	if id+n > w.hwm {
		return nil, fmt.Errorf("page %d (%s) overflows past the file's last page", id, what)
	}
	for i := id; i < id+n; i++ {
		if w.seen[i] {
			return nil, fmt.Errorf("page %d (%s) is referenced twice", i, what)
		}
		w.seen[i] = true
	}
	return w.b[off : off+int(n)*w.ps], nil
}

func (w *walker) freelist(id uint64) error {
	p, err := w.page(id, "the freelist")
	if err != nil {
		return err
	}
	if le.Uint16(p[8:]) != freelistFlag {
		return fmt.Errorf("the freelist page %d has page flags %#x", id, le.Uint16(p[8:]))
	}
	idx, count := 0, uint64(le.Uint16(p[10:]))
	if count == 0xFFFF {
		idx = 1
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("the freelist page %d is cut short", id)
		}
		count = le.Uint64(p[pageHeaderSize:])
	}
	if count > uint64(len(p)-pageHeaderSize)/8 {
		return fmt.Errorf("the freelist page %d claims %d entries", id, count)
	}
	for i := uint64(0); i < count; i++ {
		if f := le.Uint64(p[pageHeaderSize+(idx+int(i))*8:]); f < 2 || f >= w.hwm {
			return fmt.Errorf("the freelist page %d lists page %d, outside the file", id, f)
		}
	}
	return nil
}

// bucket walks the bucket whose root page is root.
func (w *walker) bucket(root uint64, depth int) error {
	if depth > maxBucketDepth {
		return fmt.Errorf("buckets nest deeper than %d", maxBucketDepth)
	}
	return w.node(root, depth, 0, nil, nil)
}

// node checks the tree node at page id, whose keys must lie in [lo, hi)
// (nil: unbounded): the bounds its ancestors' branch keys set.
func (w *walker) node(id uint64, bdepth, tdepth int, lo, hi []byte) error {
	if tdepth > maxTreeDepth {
		return fmt.Errorf("the tree under page %d is deeper than %d", id, maxTreeDepth)
	}
	p, err := w.page(id, "a tree node")
	if err != nil {
		return err
	}
	return w.nodeBytes(p, fmt.Sprintf("page %d", id), bdepth, tdepth, lo, hi)
}

// nodeBytes checks a branch or leaf page held in p (a page of the file, or
// an inline bucket's page inside a value).
func (w *walker) nodeBytes(p []byte, where string, bdepth, tdepth int, lo, hi []byte) error {
	if len(p) < pageHeaderSize {
		return fmt.Errorf("%s is cut short", where)
	}
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	var esize int
	switch flags {
	case branchPageFlag:
		esize = branchElemSize
		if count == 0 {
			return fmt.Errorf("%s is a branch with no children", where)
		}
	case leafPageFlag:
		esize = leafElemSize
	default:
		return fmt.Errorf("%s has page flags %#x, not a branch or leaf", where, flags)
	}
	if pageHeaderSize+count*esize > len(p) {
		return fmt.Errorf("%s claims %d elements, more than fit", where, count)
	}
	var prev []byte
	for i := 0; i < count; i++ {
		e := pageHeaderSize + i*esize
		var pos, ksize, vsize int
		if flags == branchPageFlag {
			pos, ksize = int(le.Uint32(p[e:])), int(le.Uint32(p[e+4:]))
		} else {
			pos, ksize, vsize = int(le.Uint32(p[e+4:])), int(le.Uint32(p[e+8:])), int(le.Uint32(p[e+12:]))
		}
		start := e + pos
		end := start + ksize + vsize
		if pos < 0 || ksize < 0 || vsize < 0 || start < e || end > len(p) || end < start {
			return fmt.Errorf("%s: element %d points outside the page", where, i)
		}
		key := p[start : start+ksize]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("%s: keys out of order at element %d", where, i)
		}
		if (lo != nil && bytes.Compare(key, lo) < 0) || (hi != nil && bytes.Compare(key, hi) >= 0) {
			return fmt.Errorf("%s: element %d is out of the key range its parent branch gives it", where, i)
		}
		prev = key
		if flags == branchPageFlag {
			// The child holds the keys from this one up to the next
			// element's (or this node's own upper bound).
			next := hi
			if i+1 < count {
				ne := pageHeaderSize + (i+1)*esize
				npos, nk := int(le.Uint32(p[ne:])), int(le.Uint32(p[ne+4:]))
				if ns := ne + npos; npos >= 0 && nk >= 0 && ns >= ne && ns+nk <= len(p) {
					next = p[ns : ns+nk]
				}
			}
			if err := w.node(le.Uint64(p[e+8:]), bdepth, tdepth+1, key, next); err != nil {
				return err
			}
			continue
		}
		if le.Uint32(p[e:])&bucketLeafFlag == 0 {
			continue
		}
		v := p[start+ksize : end]
		if len(v) < inBucketSize {
			return fmt.Errorf("%s: bucket %q has a %d-byte header", where, key, len(v))
		}
		if root := le.Uint64(v); root != 0 {
			if err := w.bucket(root, bdepth+1); err != nil {
				return err
			}
			continue
		}
		if err := w.nodeBytes(v[inBucketSize:], fmt.Sprintf("inline bucket %q", key), bdepth+1, 0, nil, nil); err != nil {
			return err
		}
		if le.Uint16(v[inBucketSize+8:]) != leafPageFlag {
			return fmt.Errorf("inline bucket %q is not a leaf", key)
		}
	}
	return nil
}
