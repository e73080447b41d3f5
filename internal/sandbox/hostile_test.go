package sandbox

import (
	"bytes"
	"testing"
)

// TestHostilePointers calls host functions with pointers and lengths out of
// range: each answers an error status, none traps or panics.
func TestHostilePointers(t *testing.T) {
	const far, end = 0xfffffff0, 0xffffffff
	s := newSandbox(t, Config{})
	cases := []struct {
		name string
		rec  []byte
		want byte
	}{
		{"log message", record(hcLog, 2, far, 100), resultInvalidMemoryAccess},
		{"log level", record(hcLog, 9, 0, 1), resultBadArgument},
		{"property path", record(hcGetProperty, end, 10, 8, 12), resultInvalidMemoryAccess},
		{"property result", record(hcGetProperty, 0, 0, far, far), resultNotFound},
		{"buffer result", record(hcGetBuffer, 7, 0, 10, far, far+4), resultInvalidMemoryAccess},
		{"buffer type", record(hcGetBuffer, 99, 0, 10, 8, 12), resultBadArgument},
		{"buffer start", record(hcGetBuffer, 7, end, 10, 8, 12), resultBadArgument},
		{"shared key", record(hcSetShared, 0, end, 0, 0, 0), resultInvalidMemoryAccess},
		{"header key", record(hcGetHeader, 0, far, 64, 8, 12), resultInvalidMemoryAccess},
		{"header map type", record(hcGetHeader, 8, 0, 1, 8, 12), resultBadArgument},
		{"http call token", record(hcHTTPCall, 0, 0, 0, 0, 0, 0, 0, 0, 1000, far), resultInvalidMemoryAccess},
		{"time", record(hcTime, end), resultInvalidMemoryAccess},
		{"fd_write iovecs", record(hcFdWrite, 1, far, 1000, 8), errnoFault},
		{"fd_write count", record(hcFdWrite, 1, 0, end, 8), errnoFault},
		{"poll_oneoff count", record(hcPollOneoff, 0, 0, 0x05555556, 8), errnoFault},
	}
	var recs [][]byte
	for _, c := range cases {
		recs = append(recs, c.rec)
	}
	_, got := results(t, s, recs...)
	if len(got) != len(cases) {
		t.Fatalf("got %d results, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("%s: result %d, want %d", c.name, got[i], c.want)
		}
	}
}

// TestEveryHostFunctionWithHugeArguments calls every host function (also
// the WASI ones) with every argument at several hostile values.
func TestEveryHostFunctionWithHugeArguments(t *testing.T) {
	s := newSandbox(t, Config{})
	for _, v := range []uint32{0xffffffff, 0x7fffffff, 0xfffffff8, 65535, 65536, 0} {
		var recs [][]byte
		for fn := range byte(hcFunctionCount) {
			recs = append(recs, record(fn, v, v, v, v, v, v, v, v, v, v, v, v))
		}
		if _, got := results(t, s, recs...); len(got) != hcFunctionCount {
			t.Errorf("value %#x: %d results, want %d", v, len(got), hcFunctionCount)
		}
	}
}

// TestClockAndRandomAreDeterministic: two sandboxes see the same time and
// the same random bytes.
func TestClockAndRandomAreDeterministic(t *testing.T) {
	recs := [][]byte{
		record(hcRandom, 2000, 16), record(hcTime, 2100),
		record(hcLog, 2, 2000, 16), record(hcLog, 2, 2100, 8),
	}
	repA, _ := results(t, newSandbox(t, Config{}), recs...)
	repB, _ := results(t, newSandbox(t, Config{Compiler: true}), recs...)
	a, b := logText(repA.Logs), logText(repB.Logs)
	if a != b || len(repA.Logs) != 3 {
		t.Errorf("runs differ or are short:\n%q\n%q", a, b)
	}
	if bytes.Equal([]byte(repA.Logs[0].Message), make([]byte, 16)) {
		t.Error("random_get returned zeros")
	}
}
