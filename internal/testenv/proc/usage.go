package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Usage is CPU time and memory of a process, read from /proc.
type Usage struct {
	// CPU is user plus system time since the process started.
	CPU time.Duration
	// PeakRSS is the resident set's high-water mark (VmHWM), in bytes.
	PeakRSS int64
	// RSS is the resident set size now (VmRSS), in bytes.
	RSS int64
	// RSSFile is the file-backed part of RSS now (RssFile): for a Go
	// program, mostly the pages of its own binary, which are clean and
	// which the kernel reclaims under memory pressure before anything else.
	RSSFile int64
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports (sysconf(_SC_CLK_TCK) would need cgo).
const clockTicks = 100

// ReadUsage reads /proc/<pid>/stat (utime + stime) and /proc/<pid>/status
// (VmHWM, VmRSS).
func ReadUsage(pid int) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	if u.CPU, err = parseStatCPU(stat); err != nil {
		return u, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	u.PeakRSS, u.RSS, u.RSSFile = parseStatusMemory(status)
	return u, nil
}

// parseStatCPU returns utime + stime of a /proc/<pid>/stat line. The
// command name (field 2) may hold spaces; fields after it are counted from
// the closing parenthesis: state is field 3, utime 14, stime 15.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("unexpected format")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("unexpected format")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// parseStatusMemory returns VmHWM, VmRSS and RssFile of /proc/<pid>/status,
// in bytes; a missing field is 0.
func parseStatusMemory(status []byte) (peak, rss, file int64) {
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmHWM":
			dst = &peak
		case "VmRSS":
			dst = &rss
		case "RssFile":
			dst = &file
		default:
			continue
		}
		fields := strings.Fields(v) // "12345 kB"
		if len(fields) > 0 {
			if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
				*dst = kb << 10
			}
		}
	}
	return peak, rss, file
}
