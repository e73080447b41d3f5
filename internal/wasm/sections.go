package wasm

import "fmt"

// Section ids of the WebAssembly binary format.
const (
	secCustom byte = iota
	secType
	secImport
	secFunction
	secTable
	secMemory
	secGlobal
	secExport
	secStart
	secElement
	secCode
	secData
	secDataCount
	secTag
)

func sectionName(id byte) string {
	names := [...]string{"custom", "type", "import", "function", "table", "memory",
		"global", "export", "start", "element", "code", "data", "data count", "tag"}
	if int(id) < len(names) {
		return names[id]
	}
	return fmt.Sprintf("%d", id)
}

// walkSection reads the section body between w.pos and w.end. The minimum
// element sizes given to repeat are those of the smallest well-formed entry.
func (w *walker) walkSection(id byte) error {
	switch id {
	case secCustom:
		return w.custom()
	case secType:
		return w.repeat("types", 2, w.funcTypeOrRecGroup)
	case secImport:
		return w.repeat("imports", 4, w.importEntry)
	case secFunction:
		return w.u32s("functions")
	case secTable:
		return w.repeat("tables", 3, w.table)
	case secMemory:
		n, err := w.u32()
		if err != nil || n == 0 {
			return err
		}
		if n > 1 {
			return errStop
		}
		return w.limits()
	case secGlobal:
		return w.repeat("globals", 3, func() error {
			if err := w.valType(); err != nil {
				return err
			}
			if _, err := w.byte(); err != nil {
				return err
			}
			return w.constExpr()
		})
	case secExport:
		return w.repeat("exports", 3, func() error { _, _, err := w.export(); return err })
	case secStart, secDataCount:
		_, err := w.u32()
		return err
	case secElement:
		return w.repeat("element segments", 3, w.elementSegment)
	case secCode:
		return w.repeat("function bodies", 3, w.functionBody)
	case secData:
		return w.repeat("data segments", 2, w.dataSegment)
	default: // tags: exception handling is off, so wazero rejects them
		return errStop
	}
}

// export reads one export entry and returns its name (aliasing the module)
// and kind (0 for a function).
func (w *walker) export() (name []byte, kind byte, err error) {
	if name, err = w.nameBytes(); err != nil {
		return nil, 0, err
	}
	if kind, err = w.byte(); err == nil && kind > 4 {
		return nil, 0, errStop
	}
	if err == nil {
		_, err = w.u32()
	}
	return name, kind, err
}

// custom reads a custom section. wazero skips all but "name", which it decodes.
func (w *walker) custom() error {
	name, err := w.nameBytes()
	if err != nil {
		return err
	}
	if string(name) != "name" {
		w.pos = w.end
		return nil
	}
	// Mirror wazero's decodeNameSection: it trusts the declared subsection
	// sizes to count down limit, but reads known subsections by content.
	for limit := uint64(w.left()); limit > 0; {
		if w.pos == len(w.b) {
			return nil // wazero stops at end of input without complaint
		}
		id, err := w.byte()
		if err != nil {
			return err
		}
		before := w.pos
		size, err := w.u32()
		if err != nil {
			return err
		}
		limit -= 1 + uint64(w.pos-before)
		switch id {
		case 0: // module name
			err = w.name()
		case 1: // function names
			err = w.names("function names")
		case 2: // local names
			err = w.repeat("functions with local names", 2, func() error {
				if _, err := w.u32(); err != nil {
					return err
				}
				return w.names("local names")
			})
		default:
			err = w.skip(size)
		}
		if err != nil {
			return err
		}
		limit -= uint64(size)
	}
	return nil
}

func (w *walker) funcTypeOrRecGroup() error {
	if w.pos < w.end && w.b[w.pos] == 0x4e { // rec group: appended, not preallocated
		w.pos++
		n, err := w.u32()
		for i := uint32(0); err == nil && i < n; i++ {
			err = w.funcType()
		}
		return err
	}
	return w.funcType()
}

func (w *walker) funcType() error {
	form, err := w.byte()
	if err != nil {
		return err
	}
	if form != 0x60 {
		return errStop
	}
	if err := w.valTypes("parameters"); err != nil {
		return err
	}
	return w.valTypes("results")
}

func (w *walker) importEntry() error {
	if err := w.name(); err != nil {
		return err
	}
	if err := w.name(); err != nil {
		return err
	}
	kind, err := w.byte()
	if err != nil {
		return err
	}
	switch kind {
	case 0: // function
		_, err = w.u32()
	case 1:
		err = w.table()
	case 2:
		err = w.limits()
	case 3: // global
		if err = w.valType(); err == nil {
			_, err = w.byte()
		}
	default: // tags (exception handling is off)
		err = errStop
	}
	return err
}

func (w *walker) elementSegment() error {
	prefix, err := w.u32()
	if err != nil {
		return err
	}
	// steps lists what each prefix holds, in order, after the prefix.
	var steps []func() error
	tableIndex := func() error { _, err := w.u32(); return err }
	elemKind := func() error { _, err := w.byte(); return err }
	funcIndices := func() error { return w.u32s("element function indices") }
	exprs := func() error { return w.repeat("element expressions", 1, w.constExpr) }
	switch prefix {
	case 0:
		steps = []func() error{w.constExpr, funcIndices}
	case 1, 3:
		steps = []func() error{elemKind, funcIndices}
	case 2:
		steps = []func() error{tableIndex, w.constExpr, elemKind, funcIndices}
	case 4:
		steps = []func() error{w.constExpr, exprs}
	case 5, 7:
		steps = []func() error{w.valType, exprs}
	case 6:
		steps = []func() error{tableIndex, w.constExpr, w.valType, exprs}
	default:
		return errStop
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) functionBody() error {
	size, err := w.u32()
	if err != nil {
		return err
	}
	if int64(size) > int64(w.left()) {
		return w.fail("function body of %d bytes exceeds the %d bytes left", size, w.left())
	}
	sectionEnd := w.end
	w.end = w.pos + int(size)
	defer func() { w.end = sectionEnd }()

	groups, err := w.u32()
	if err != nil {
		return err
	}
	var locals uint64
	for range groups {
		n, err := w.u32()
		if err != nil {
			return err
		}
		if locals += uint64(n); locals > maxLocals {
			return w.fail("function declares more than %d locals", maxLocals)
		}
		if err := w.valType(); err != nil {
			return err
		}
	}
	w.pos = w.end
	return nil
}

func (w *walker) dataSegment() error {
	prefix, err := w.u32()
	if err != nil {
		return err
	}
	switch prefix {
	case 0:
		err = w.constExpr()
	case 1:
	case 2:
		if _, err = w.u32(); err == nil {
			err = w.constExpr()
		}
	default:
		return errStop
	}
	if err != nil {
		return err
	}
	n, err := w.u32()
	if err != nil {
		return err
	}
	return w.skip(n)
}
