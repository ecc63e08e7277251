// The client_golang side of bench/gzip_load.ts: promhttp serving the same 10,000 series as
// registryOf10kSeries() in bench/gzip_fixture.ts (9,000 counter series, 1,000 histogram series
// with 11 bounds, the same label values and observations), gzip on as by default.
//
// Build (offline, GOPATH mode, Debian's client_golang):
//   GOPATH=/usr/share/gocode GO111MODULE=off go build -o /tmp/promhttp_10k ./bench/promhttp
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	registry := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "requests",
	}, []string{"method", "route"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "latency",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"method", "route"})
	registry.MustRegister(requests, latency)
	for i := 0; i < 9000; i++ {
		requests.WithLabelValues(fmt.Sprintf("m%d", i/100), fmt.Sprintf("/route/%d", i%100)).Add(float64(i))
	}
	for i := 0; i < 1000; i++ {
		child := latency.WithLabelValues(fmt.Sprintf("m%d", i/100), fmt.Sprintf("/route/%d", i%100))
		for k := 0; k < 10; k++ {
			child.Observe(float64((i*31+k*7919)%12000) / 1000)
		}
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("PORT %d\n", listener.Addr().(*net.TCPAddr).Port)
	http.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	fmt.Fprintln(os.Stderr, http.Serve(listener, nil))
}
