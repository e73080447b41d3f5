package main

import (
	"reflect"
	"testing"

	"github.com/wasmext/wasmext/internal/metricsauth"
)

// TestMetricsOptions: --metrics-secure (the default) serves /metrics over
// HTTPS behind metricsauth; false serves plain HTTP without a filter.
func TestMetricsOptions(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := metricsOptions(o)
	if !m.SecureServing || m.FilterProvider == nil ||
		reflect.ValueOf(m.FilterProvider).Pointer() != reflect.ValueOf(metricsauth.Filter).Pointer() {
		t.Fatalf("default metrics options %+v: want HTTPS behind metricsauth.Filter", m)
	}
	o, err = parseFlags([]string{"--metrics-secure=false"})
	if err != nil {
		t.Fatal(err)
	}
	if m := metricsOptions(o); m.SecureServing || m.FilterProvider != nil {
		t.Fatalf("--metrics-secure=false: %+v, want plain HTTP, no filter", m)
	}
}
