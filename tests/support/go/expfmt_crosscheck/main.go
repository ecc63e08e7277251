// Command expfmt_crosscheck builds the metric families described by a JSON spec on stdin with
// client_golang's own metric types (counters, gauges, untyped, summaries, classic and native
// histograms, exemplars), gathers them and writes them to stdout in the delimited protobuf
// exposition format with expfmt: the reference bytes tests/exposition/protobuf_client_golang_crosscheck_test.ts compares
// against. Exemplar timestamps are set to a fixed time so both sides can agree on them.
//
// Build offline in GOPATH mode (Debian's golang-github-prometheus-client-golang-dev):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o crosscheck main.go
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/golang/protobuf/ptypes/timestamp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type native struct {
	Factor        float64 `json:"factor"`
	MaxBuckets    uint32  `json:"maxBuckets"`
	ZeroThreshold float64 `json:"zeroThreshold"`
}

// number is a float64 that also reads the JSON strings "+Inf", "-Inf" and "NaN".
type number float64

func (n *number) UnmarshalJSON(data []byte) error {
	var text string
	if json.Unmarshal(data, &text) == nil {
		switch text {
		case "+Inf":
			*n = number(math.Inf(1))
		case "-Inf":
			*n = number(math.Inf(-1))
		case "NaN":
			*n = number(math.NaN())
		default:
			return fmt.Errorf("not a number: %q", text)
		}
		return nil
	}
	var value float64
	err := json.Unmarshal(data, &value)
	*n = number(value)
	return err
}

type series struct {
	LabelValues []string `json:"labelValues"`
	Values      []number `json:"values"`
	// Exemplar labels by position in Values.
	Exemplars map[int]map[string]string `json:"exemplars"`
}

type family struct {
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	Help       string    `json:"help"`
	LabelNames []string  `json:"labelNames"`
	Buckets    []float64 `json:"buckets"`
	Native     *native   `json:"native"`
	Series     []series  `json:"series"`
}

type spec struct {
	Families []family `json:"families"`
	// Seconds since the epoch given to every exemplar.
	ExemplarTime float64 `json:"exemplarTime"`
}

func build(registry *prometheus.Registry, f family) error {
	switch f.Kind {
	case "counter":
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: f.Name, Help: f.Help}, f.LabelNames)
		registry.MustRegister(vec)
		for _, s := range f.Series {
			c := vec.WithLabelValues(s.LabelValues...)
			for i, v := range s.Values {
				if e, ok := s.Exemplars[i]; ok {
					c.(prometheus.ExemplarAdder).AddWithExemplar(float64(v), e)
				} else {
					c.Add(float64(v))
				}
			}
		}
	case "gauge":
		vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: f.Name, Help: f.Help}, f.LabelNames)
		registry.MustRegister(vec)
		for _, s := range f.Series {
			for _, v := range s.Values {
				vec.WithLabelValues(s.LabelValues...).Set(float64(v))
			}
		}
	case "untyped":
		desc := prometheus.NewDesc(f.Name, f.Help, f.LabelNames, nil)
		var metrics []prometheus.Metric
		for _, s := range f.Series {
			metrics = append(metrics, prometheus.MustNewConstMetric(desc, prometheus.UntypedValue, float64(s.Values[0]), s.LabelValues...))
		}
		registry.MustRegister(constCollector{desc, metrics})
	case "summary":
		vec := prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: f.Name, Help: f.Help}, f.LabelNames)
		registry.MustRegister(vec)
		for _, s := range f.Series {
			for _, v := range s.Values {
				vec.WithLabelValues(s.LabelValues...).Observe(float64(v))
			}
		}
	case "histogram":
		opts := prometheus.HistogramOpts{Name: f.Name, Help: f.Help, Buckets: f.Buckets}
		if f.Native != nil {
			opts.NativeHistogramBucketFactor = f.Native.Factor
			opts.NativeHistogramMaxBucketNumber = f.Native.MaxBuckets
			opts.NativeHistogramZeroThreshold = f.Native.ZeroThreshold
		}
		vec := prometheus.NewHistogramVec(opts, f.LabelNames)
		registry.MustRegister(vec)
		for _, s := range f.Series {
			h := vec.WithLabelValues(s.LabelValues...)
			for i, v := range s.Values {
				if e, ok := s.Exemplars[i]; ok {
					h.(prometheus.ExemplarObserver).ObserveWithExemplar(float64(v), e)
				} else {
					h.Observe(float64(v))
				}
			}
		}
	default:
		return fmt.Errorf("unknown kind %q", f.Kind)
	}
	return nil
}

type constCollector struct {
	desc    *prometheus.Desc
	metrics []prometheus.Metric
}

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- m
	}
}

func fixExemplar(e *dto.Exemplar, seconds float64) {
	if e == nil {
		return
	}
	whole := int64(seconds)
	e.Timestamp = &timestamp.Timestamp{Seconds: whole, Nanos: int32((seconds - float64(whole)) * 1e9)}
}

func main() {
	var s spec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		fmt.Fprintln(os.Stderr, "reading the spec:", err)
		os.Exit(2)
	}
	registry := prometheus.NewRegistry()
	for _, f := range s.Families {
		if err := build(registry, f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	families, err := registry.Gather()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gathering:", err)
		os.Exit(1)
	}
	encoder := expfmt.NewEncoder(os.Stdout, expfmt.FmtProtoDelim)
	for _, mf := range families {
		for _, m := range mf.Metric {
			if m.Counter != nil {
				fixExemplar(m.Counter.Exemplar, s.ExemplarTime)
			}
			if m.Histogram != nil {
				for _, b := range m.Histogram.Bucket {
					fixExemplar(b.Exemplar, s.ExemplarTime)
				}
			}
		}
		if err := encoder.Encode(mf); err != nil {
			fmt.Fprintln(os.Stderr, "encoding:", err)
			os.Exit(1)
		}
	}
}
