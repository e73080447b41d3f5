package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metrics is one scrape.
type metrics []sample

// sum adds the samples named name whose labels match every key=value of
// match (an empty value matches any).
func (m metrics) sum(name string, match map[string]string) float64 {
	var total float64
	for _, s := range m {
		if s.name != name || !matches(s.labels, match) {
			continue
		}
		total += s.value
	}
	return total
}

// by sums the samples named name matching match, grouped by the values of
// the labels keys (joined with "/", empty parts left out).
func (m metrics) by(name string, match map[string]string, keys ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m {
		if s.name != name || !matches(s.labels, match) {
			continue
		}
		var parts []string
		for _, k := range keys {
			if v := s.labels[k]; v != "" {
				parts = append(parts, v)
			}
		}
		out[strings.Join(parts, " ")] += s.value
	}
	return out
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if v != "" && labels[k] != v {
			return false
		}
	}
	return true
}

// delta returns after - before per key.
func delta(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// scrape GETs a Prometheus text endpoint with hc.
func scrape(ctx context.Context, hc *http.Client, url string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("scraping %s: %s: %s", url, resp.Status, b)
	}
	return parse(resp.Body)
}

// scrapeAPIServer scrapes the kube-apiserver's own /metrics.
func scrapeAPIServer(ctx context.Context, cfg *rest.Config) (metrics, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return scrape(ctx, hc, strings.TrimSuffix(cfg.Host, "/")+"/metrics")
}

// parse reads the text exposition format: `name{k="v",…} value [timestamp]`.
// Only the counters and gauges the bench reads need to come out right;
// histogram lines parse like any other.
func parse(r io.Reader) (metrics, error) {
	var out metrics
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		line := s.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		smp, ok := parseLine(line)
		if ok {
			out = append(out, smp)
		}
	}
	return out, s.Err()
}

func parseLine(line string) (sample, bool) {
	smp := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return smp, false
	}
	smp.name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq < 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
				return smp, false
			}
			key := rest[:eq]
			rest = rest[eq+2:]
			var val strings.Builder
			j := 0
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[j])
					}
					continue
				}
				val.WriteByte(rest[j])
			}
			if j >= len(rest) {
				return smp, false
			}
			smp.labels[key] = val.String()
			rest = rest[j+1:]
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return smp, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return smp, false
	}
	smp.value = v
	return smp, true
}
