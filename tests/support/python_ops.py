"""The Python side of the cross-checks against the official client (prometheus_client 0.16).

Run with Debian's interpreter and the _created series disabled:

    PROMETHEUS_DISABLE_CREATED_SERIES=True /usr/bin/python3 tests/support/python_ops.py apply < ops.json
    /usr/bin/python3 tests/support/python_ops.py parse < texts.json

`apply` reads {"cases": [{"metrics": [...], "ops": [...]}, ...]}, builds the metrics of each case
with the client's own API (Counter, Gauge, Histogram, Summary, Info, Enum) in a fresh
CollectorRegistry, applies the operations in order and answers
{"results": [{"text": ..., "openmetrics": ...} | {"error": ...}, ...]}: the 0.0.4 text of
`generate_latest` and the OpenMetrics text of `openmetrics.exposition.generate_latest`.

`parse` reads {"text": ..., "openmetrics": ...} and answers the samples each parser finds:
{"text": [family, ...] | {"error": ...}, "openmetrics": [...] | {"error": ...}}.

Numbers travel as strings (JavaScript's String(n), "-0.0" for negative zero, "NaN",
"Infinity", "-Infinity") so that every double, -0 and the non-finite values survive JSON;
float() reads them all exactly.

Standard input and output are handled as UTF-8 bytes whatever the locale says.
"""

import json
import sys
import traceback

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    generate_latest,
)
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client import parser as text_parser


def number(text):
    return float(text)


def number_text(value):
    """The inverse of number(): what JavaScript's Number() reads back exactly."""
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return repr(float(value))


def build_metric(spec, registry):
    kind = spec["kind"]
    common = dict(
        name=spec["name"],
        documentation=spec["help"],
        labelnames=spec["labelNames"],
        registry=registry,
    )
    if spec.get("unit"):
        common["unit"] = spec["unit"]
    if kind == "counter":
        return Counter(**common)
    if kind == "gauge":
        return Gauge(**common)
    if kind == "histogram":
        if spec.get("buckets") is None:
            return Histogram(**common)
        return Histogram(buckets=[number(b) for b in spec["buckets"]], **common)
    if kind == "summary":
        return Summary(**common)
    if kind == "info":
        return Info(**common)
    if kind == "enum":
        return Enum(states=spec["states"], **common)
    raise ValueError("unknown metric kind " + kind)


def apply_op(metrics, op):
    metric = metrics[op["metric"]]
    name = op["op"]
    if name == "remove":
        metric.remove(*op["labels"])
        return
    if name == "clear":
        metric.clear()
        return
    series = metric if op.get("labels") is None else metric.labels(*op["labels"])
    if name == "inc":
        if "exemplar" in op:
            series.inc(number(op["value"]), op["exemplar"])
        else:
            series.inc(number(op["value"]))
    elif name == "dec":
        series.dec(number(op["value"]))
    elif name == "set":
        series.set(number(op["value"]))
    elif name == "observe":
        if "exemplar" in op:
            series.observe(number(op["value"]), op["exemplar"])
        else:
            series.observe(number(op["value"]))
    elif name == "info":
        series.info(op["info"])
    elif name == "state":
        series.state(op["state"])
    elif name == "touch":
        pass  # labels(...) alone creates the series
    else:
        raise ValueError("unknown operation " + name)


def run_case(case):
    registry = CollectorRegistry()
    metrics = [build_metric(spec, registry) for spec in case["metrics"]]
    for op in case["ops"]:
        apply_op(metrics, op)
    return {
        "text": generate_latest(registry).decode("utf-8"),
        "openmetrics": openmetrics_exposition.generate_latest(registry).decode("utf-8"),
    }


def apply_all(request):
    results = []
    for case in request["cases"]:
        try:
            results.append(run_case(case))
        except Exception:  # reported per case, so one bad case does not hide the others
            results.append({"error": traceback.format_exc()})
    return {"results": results}


def sample_json(sample):
    result = {
        "name": sample.name,
        "labels": dict(sample.labels),
        "value": number_text(sample.value),
    }
    if sample.exemplar is not None:
        result["exemplar"] = {
            "labels": dict(sample.exemplar.labels),
            "value": number_text(sample.exemplar.value),
            "hasTimestamp": sample.exemplar.timestamp is not None,
        }
    return result


def families_json(parse, text):
    try:
        return [
            {
                "name": family.name,
                "type": family.type,
                "help": family.documentation,
                "unit": getattr(family, "unit", ""),
                "samples": [sample_json(s) for s in family.samples],
            }
            for family in parse(text)
        ]
    except Exception:
        return {"error": traceback.format_exc()}


def parse_all(request):
    answer = {}
    if "text" in request:
        answer["text"] = families_json(text_parser.text_string_to_metric_families, request["text"])
    if "openmetrics" in request:
        answer["openmetrics"] = families_json(
            openmetrics_parser.text_string_to_metric_families, request["openmetrics"]
        )
    return answer


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    if mode == "apply":
        answer = apply_all(request)
    elif mode == "parse":
        answer = parse_all(request)
    else:
        sys.stderr.write("usage: python_ops.py apply|parse < request.json\n")
        sys.exit(2)
    sys.stdout.buffer.write(json.dumps(answer).encode("utf-8"))


if __name__ == "__main__":
    main()
