"""The runtime's RED metrics in Prometheus text format: the same names, labels and buckets as the
Node runtime (src/runtime/metrics.ts, names from src/contract/ Metrics, docs/metrics.md)."""

import bisect

INVOCATIONS = "kubefaas_function_invocations_total"
DURATION = "kubefaas_function_duration_seconds"
IN_FLIGHT = "kubefaas_function_in_flight"
COLD_STARTS = "kubefaas_function_cold_starts_total"

SUCCESS, ERROR, TIMEOUT, REJECTED = 0, 1, 2, 3
OUTCOME_NAMES = ("success", "error", "timeout", "rejected")

# Must equal FUNCTION_DURATION_BUCKETS in src/contract/metrics.ts (a test compares them).
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class TriggerStats:
    __slots__ = ("outcomes", "buckets", "duration_sum", "duration_count")

    def __init__(self):
        self.outcomes = [0, 0, 0, 0]
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.duration_count = 0

    def count(self, outcome):
        self.outcomes[outcome] += 1

    def observe(self, seconds):
        # bisect_left: a value equal to a bound belongs to that bucket (le = less or equal).
        self.buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.duration_sum += seconds
        self.duration_count += 1


def label_value(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


class RuntimeMetrics:
    def __init__(self, function_name):
        self.function_name = function_name
        self.in_flight = 0
        self.cold_starts = 0
        self._triggers = {}
        #: render() of other parts of the process (the queue consumers), appended to ours
        self.extra = []

    def trigger(self, name):
        stats = self._triggers.get(name)
        if stats is None:
            stats = self._triggers[name] = TriggerStats()
        return stats

    def render(self):
        fn = label_value(self.function_name)
        out = [
            f"# HELP {INVOCATIONS} Invocations of the function by trigger and outcome (success, error, timeout, rejected).",
            f"# TYPE {INVOCATIONS} counter",
        ]
        for trigger, stats in self._triggers.items():
            t = label_value(trigger)
            for i, outcome in enumerate(OUTCOME_NAMES):
                out.append(f'{INVOCATIONS}{{function="{fn}",trigger="{t}",outcome="{outcome}"}} {stats.outcomes[i]}')
        out += [
            "",
            f"# HELP {IN_FLIGHT} Invocations currently being handled by this process.",
            f"# TYPE {IN_FLIGHT} gauge",
            f'{IN_FLIGHT}{{function="{fn}"}} {self.in_flight}',
            "",
            f"# HELP {COLD_STARTS} Invocations that were the first one handled by their process.",
            f"# TYPE {COLD_STARTS} counter",
            f'{COLD_STARTS}{{function="{fn}"}} {self.cold_starts}',
            "",
            f"# HELP {DURATION} Time from request arrival to response, in seconds, by trigger.",
            f"# TYPE {DURATION} histogram",
        ]
        for trigger, stats in self._triggers.items():
            t = label_value(trigger)
            cumulative = 0
            for i, bound in enumerate(DURATION_BUCKETS + ("+Inf",)):
                cumulative += stats.buckets[i]
                out.append(f'{DURATION}_bucket{{le="{_number(bound) if bound != "+Inf" else bound}",function="{fn}",trigger="{t}"}} {cumulative}')
            out.append(f'{DURATION}_sum{{function="{fn}",trigger="{t}"}} {_number(stats.duration_sum)}')
            out.append(f'{DURATION}_count{{function="{fn}",trigger="{t}"}} {stats.duration_count}')
        return "\n".join(out) + "\n" + "".join(render() for render in self.extra)
