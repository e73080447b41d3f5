package sandbox

// Section ids of the WebAssembly binary format.
const (
	sectionExport = 7
	sectionStart  = 8
)

// layout is what the dry run reads from the binary itself, because wazero's
// CompiledModule does not keep it: function exports in export-section order
// (Envoy picks the first ABI marker in that order) and whether a start
// section exists. It runs after wazero compiled the bytes, so the format is
// valid; should a read still fail, it returns what it read so far.
type layout struct {
	exports  []string
	hasStart bool
}

// readLayout walks the top-level sections of a module.
func readLayout(b []byte) layout {
	var l layout
	r := reader{b: b, pos: 8} // magic and version
	for r.pos < len(b) {
		id, ok := r.byte()
		if !ok {
			return l
		}
		size, ok := r.u32()
		if !ok || uint64(r.pos)+uint64(size) > uint64(len(b)) {
			return l
		}
		end := r.pos + int(size)
		switch id {
		case sectionStart:
			l.hasStart = true
		case sectionExport:
			l.exports = readExports(reader{b: b[:end], pos: r.pos})
		}
		r.pos = end
	}
	return l
}

// readExports reads the function export names of an export section.
func readExports(r reader) []string {
	n, ok := r.u32()
	if !ok {
		return nil
	}
	var names []string
	for range n {
		name, ok := r.name()
		if !ok {
			return names
		}
		kind, ok := r.byte()
		if !ok {
			return names
		}
		if _, ok := r.u32(); !ok {
			return names
		}
		if kind == 0 {
			names = append(names, name)
		}
	}
	return names
}

// reader reads LEB128 numbers and names from a byte slice.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) byte() (byte, bool) {
	if r.pos >= len(r.b) {
		return 0, false
	}
	c := r.b[r.pos]
	r.pos++
	return c, true
}

// u32 reads an unsigned LEB128 number of at most 5 bytes.
func (r *reader) u32() (uint32, bool) {
	var v uint32
	for shift := uint(0); shift < 35; shift += 7 {
		c, ok := r.byte()
		if !ok {
			return 0, false
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}

// name reads a length-prefixed name.
func (r *reader) name() (string, bool) {
	n, ok := r.u32()
	if !ok || uint64(r.pos)+uint64(n) > uint64(len(r.b)) {
		return "", false
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s, true
}

// abiMarker picks the first known ABI marker in export order, as
// BytecodeUtil::getAbiVersion (proxy-wasm-cpp-host src/bytecode_util.cc) does.
func abiMarker(exports []string) string {
	for _, name := range exports {
		for _, abi := range knownABIs {
			if name == abi {
				return abi
			}
		}
	}
	return ""
}
