package pt

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// checkPickle walks the opcodes of a pickle up to STOP and checks that every
// length field fits in the remaining bytes. gopickle allocates a buffer of the
// declared length before reading it, so an unchecked 2^40 would crash the
// process rather than return an error.
func checkPickle(b []byte) error {
	for i := 0; i < len(b); {
		op := b[i]
		i++
		if n, ok := fixedArg[op]; ok {
			i += n
		} else if n, ok := lenArg[op]; ok {
			if i+n > len(b) {
				break
			}
			var l uint64
			switch n {
			case 1:
				l = uint64(b[i])
			case 4:
				l = uint64(binary.LittleEndian.Uint32(b[i:]))
			case 8:
				l = binary.LittleEndian.Uint64(b[i:])
			}
			i += n
			if l > uint64(len(b)-i) {
				return fmt.Errorf("pickle opcode %#x at byte %d declares %d bytes, only %d remain", op, i-n-1, l, len(b)-i)
			}
			if op != opFrame { // a frame's bytes are opcodes: walk into them
				i += int(l)
			}
		} else if lines, ok := lineArg[op]; ok {
			for range lines {
				j := bytes.IndexByte(b[i:], '\n')
				if j < 0 {
					return fmt.Errorf("pickle opcode %#x at byte %d: unterminated argument", op, i-1)
				}
				i += j + 1
			}
		} else if op == opStop {
			return nil
		} else if !noArg[op] {
			return fmt.Errorf("unknown pickle opcode %#x at byte %d", op, i-1)
		}
	}
	return fmt.Errorf("pickle truncated (no STOP)")
}

const (
	opStop  = '.'
	opFrame = 0x95
)

// Opcode argument formats, from CPython's Lib/pickletools.py.
var (
	noArg = func() map[byte]bool {
		m := map[byte]bool{}
		for _, op := range []byte("(01a2NRabd}el]ost)uQ") {
			m[op] = true
		}
		for _, op := range []byte{0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98} {
			m[op] = true
		}
		return m
	}()
	fixedArg = map[byte]int{
		'J': 4, 'K': 1, 'M': 2, 'G': 8, 'h': 1, 'j': 4, 'q': 1, 'r': 4,
		0x80: 1, 0x82: 1, 0x83: 2, 0x84: 4,
	}
	// Length-prefixed arguments: the size of the length field.
	lenArg = map[byte]int{
		0x8a: 1, 0x8b: 4, 'T': 4, 'U': 1, 'B': 4, 'C': 1, 'X': 4, 0x8c: 1,
		0x8d: 8, 0x8e: 8, 0x96: 8, opFrame: 8,
	}
	// Newline-terminated arguments: how many lines.
	lineArg = map[byte]int{
		'I': 1, 'L': 1, 'F': 1, 'S': 1, 'V': 1, 'P': 1, 'g': 1, 'p': 1,
		'c': 2, 'i': 2,
	}
)
