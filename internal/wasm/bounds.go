package wasm

import (
	"cmp"
	"errors"
	"fmt"
)

// checkBounds walks the module's sections the way wazero's decoder
// (v1.12.0, interpreter, debug info off) reads them and rejects every
// vector count and byte length that the rest of its section cannot hold.
//
// wazero allocates a vector before reading its elements, so without this a
// 15-byte module declaring 2^32-1 functions makes it ask for hundreds of
// gigabytes, and the Go runtime ends the whole process with "out of memory",
// which recover cannot catch (found by FuzzInspect). Rejecting such a module
// here is always right: a count that its section cannot hold, or a read past
// the end of a section, makes wazero fail the module anyway, only later.
//
// Where the walk meets something it cannot measure (an unknown opcode, kind
// or prefix) it stops without a verdict: wazero fails at the same byte, before
// reading further, and says more precisely what is wrong.
func checkBounds(b []byte) error {
	_, err := walk(b)
	return err
}

// walk does the work of checkBounds. complete reports whether it read every
// section to its end rather than stopping without a verdict; tests use it to
// check that the walk understands valid modules.
func walk(b []byte) (complete bool, err error) {
	w := walker{b: b, pos: len(wasmHeader)}
	for w.pos < len(b) {
		id, err := w.nextSection()
		if err == nil {
			err = w.walkSection(id)
		}
		switch {
		case errors.Is(err, errStop):
			return false, nil
		case err != nil:
			return false, err
		case w.pos != w.end:
			return false, nil // wazero reports the wrong section length
		}
	}
	return true, nil
}

// maxLocals caps the locals one function may declare. wazero allocates one
// byte per declared local before validating, V8 (Envoy's Wasm runtime) and
// wasmtime refuse more than 50,000, and the spec allows 2^32-1.
const maxLocals = 50_000

// errStop ends the walk without a verdict; see checkBounds.
var errStop = errors.New("stop")

// walker reads one section of b, never past end.
type walker struct {
	b       []byte
	pos     int
	end     int // end of the section being read
	section string
}

// nextSection reads the header of the section at pos and makes the walker
// read that section: end is its end, section its name.
func (w *walker) nextSection() (byte, error) {
	id := w.b[w.pos]
	w.pos++
	w.end, w.section = len(w.b), sectionName(id)
	if id > secTag {
		return id, w.fail("unknown section id %d", id)
	}
	size, err := w.u32()
	if err == nil && int64(size) > int64(w.left()) {
		err = w.fail("declares %d bytes but only %d remain", size, w.left())
	}
	if err == nil {
		w.end = w.pos + int(size)
	}
	return id, err
}

func (w *walker) fail(format string, args ...any) error {
	return fmt.Errorf("%w: section %s at offset %#x: %s", ErrInvalidWasm, w.section, w.pos, fmt.Sprintf(format, args...))
}

func (w *walker) left() int { return w.end - w.pos }

func (w *walker) byte() (byte, error) {
	if w.pos >= w.end {
		return 0, w.fail("unexpected end of section")
	}
	w.pos++
	return w.b[w.pos-1], nil
}

// u32 reads an unsigned LEB128 exactly as wazero's leb128.DecodeUint32.
func (w *walker) u32() (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		if c < 0x80 {
			if i == 4 && c&0xf0 != 0 {
				return 0, errStop
			}
			return v | uint32(c)<<(7*i), nil
		}
		v |= uint32(c&0x7f) << (7 * i)
	}
	return 0, errStop
}

// skipSigned skips a signed LEB128 of at most maxLen bytes, as wazero's
// DecodeInt32 and DecodeInt64 consume it.
func (w *walker) skipSigned(maxLen int) error {
	for n := 1; ; n++ {
		c, err := w.byte()
		if err != nil {
			return err
		}
		if c&0x80 == 0 {
			if n > maxLen {
				return errStop
			}
			return nil
		}
	}
}

// skipS33 skips a heap type as wazero's DecodeInt33AsInt64 consumes it: up
// to five bytes, even when the fifth still has its continuation bit set.
func (w *walker) skipS33() error {
	for range 5 {
		c, err := w.byte()
		if err != nil || c&0x80 == 0 {
			return err
		}
	}
	return nil
}

func (w *walker) skip(n uint32) error {
	if int64(n) > int64(w.left()) {
		return w.fail("length %d exceeds the %d bytes left", n, w.left())
	}
	w.pos += int(n)
	return nil
}

// count reads a vector length whose elements take at least minSize bytes each.
func (w *walker) count(what string, minSize int) (uint32, error) {
	n, err := w.u32()
	if err == nil && uint64(n)*uint64(minSize) > uint64(w.left()) {
		err = w.fail("%d %s cannot fit in the %d bytes left", n, what, w.left())
	}
	return n, err
}

// repeat reads a vector of what using each, whose elements take at least
// minSize bytes each.
func (w *walker) repeat(what string, minSize int, each func() error) error {
	n, err := w.count(what, minSize)
	for i := uint32(0); err == nil && i < n; i++ {
		err = each()
	}
	return err
}

func (w *walker) name() error {
	_, err := w.nameBytes()
	return err
}

// nameBytes reads a name and returns its bytes, which alias the module.
func (w *walker) nameBytes() ([]byte, error) {
	n, err := w.u32()
	if err != nil {
		return nil, err
	}
	start := w.pos
	if err := w.skip(n); err != nil {
		return nil, err
	}
	return w.b[start:w.pos], nil
}

func (w *walker) u32s(what string) error {
	return w.repeat(what, 1, func() error { _, err := w.u32(); return err })
}

func (w *walker) names(what string) error {
	return w.repeat(what, 2, func() error {
		if _, err := w.u32(); err != nil {
			return err
		}
		return w.name()
	})
}

// valType reads a value type: one byte, or a ref prefix and a heap type.
func (w *walker) valType() error {
	c, err := w.byte()
	if err == nil && (c == 0x63 || c == 0x64) {
		err = w.skipS33()
	}
	return err
}

func (w *walker) valTypes(what string) error {
	return w.repeat(what, 1, w.valType)
}

func (w *walker) limits() error {
	flag, err := w.byte()
	if err != nil {
		return err
	}
	if flag > 3 {
		return errStop
	}
	if _, err := w.u32(); err != nil || flag&1 == 0 {
		return err
	}
	_, err = w.u32()
	return err
}

func (w *walker) table() error {
	c, err := w.byte()
	if err != nil {
		return err
	}
	hasInit := c == 0x40
	if hasInit {
		if reserved, err := w.byte(); err != nil || reserved != 0 {
			return cmp.Or(err, errStop)
		}
		if c, err = w.byte(); err != nil {
			return err
		}
	}
	if c == 0x63 || c == 0x64 {
		if err := w.skipS33(); err != nil {
			return err
		}
	}
	if err := w.limits(); err != nil || !hasInit {
		return err
	}
	return w.constExpr()
}

// constExpr skips a constant expression up to and including its end opcode.
func (w *walker) constExpr() error {
	for {
		op, err := w.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b: // end
			return nil
		case 0x41: // i32.const
			err = w.skipSigned(5)
		case 0x42: // i64.const
			err = w.skipSigned(10)
		case 0x43: // f32.const
			err = w.skip(4)
		case 0x44: // f64.const
			err = w.skip(8)
		case 0x23, 0xd0, 0xd2: // global.get, ref.null, ref.func: one u32
			_, err = w.u32()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			var sub byte
			if sub, err = w.byte(); err == nil && sub != 0x0c {
				err = errStop
			}
			if err == nil {
				err = w.skip(16)
			}
		default:
			return errStop
		}
		if err != nil {
			return err
		}
	}
}
