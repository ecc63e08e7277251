// The client_golang side of bench/lean_render.ts: builds N counter or histogram series
// (11 bounds) with the same label values and numbers as the Deno side, then times promhttp's
// handler answering a plain (not gzipped) text scrape in process, through an
// httptest.ResponseRecorder, and prints the median in ms and the body size.
//
// Build (offline, GOPATH mode, Debian's client_golang):
//   GOPATH=/usr/share/gocode GO111MODULE=off go build -o /tmp/promhttp_render ./bench/promhttp_render
// Run: /tmp/promhttp_render counter 100000 5
package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	kind := os.Args[1]
	series, _ := strconv.Atoi(os.Args[2])
	runs, _ := strconv.Atoi(os.Args[3])
	registry := prometheus.NewRegistry()
	if kind == "counter" {
		requests := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "requests",
		}, []string{"method", "route"})
		registry.MustRegister(requests)
		for i := 0; i < series; i++ {
			requests.WithLabelValues(fmt.Sprintf("m%d", i/100), fmt.Sprintf("/route/%d", i%100)).Add(float64(i % 5000))
		}
	} else {
		latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "latency",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"method", "route"})
		registry.MustRegister(latency)
		for i := 0; i < series; i++ {
			child := latency.WithLabelValues(fmt.Sprintf("m%d", i/100), fmt.Sprintf("/route/%d", i%100))
			for k := 0; k < 10; k++ {
				child.Observe(float64((i*31+k*7919)%12000) / 1000)
			}
		}
	}
	handler := promhttp.HandlerFor(registry, promhttp.HandlerOpts{DisableCompression: true})
	times := make([]float64, 0, runs)
	size := 0
	for r := 0; r < runs+1; r++ {
		request := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		request.Header.Set("Accept", "text/plain")
		recorder := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(recorder, request)
		elapsed := time.Since(start)
		size = recorder.Body.Len()
		if r > 0 { // the first run warms up
			times = append(times, float64(elapsed.Microseconds())/1000)
		}
	}
	sort.Float64s(times)
	fmt.Printf("median_ms %.3f bytes %d\n", times[len(times)/2], size)
}
