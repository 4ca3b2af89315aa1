#!/usr/bin/env python3
"""Checks a results directory's requests.jsonl (metrics.raw) against its summary.json: one valid
record per request, the in-window and successful counts equal, TTFT and E2E p50/p99 of the
records equal to the summary's within HdrHistogram's 0.1% (plus the summary's rounding), times
ordered. Usage: check_requests_jsonl.py RESULTS_DIR [WORKERS]"""
import json
import math
import sys

KEYS = ["worker", "stage", "turn", "in_window", "outcome", "intended_s", "sent_s", "first_chunk_s",
        "last_chunk_s", "end_s", "ttft_ms", "e2e_ms", "input_tokens", "output_tokens",
        "cached_tokens", "chunks"]


def percentile(values, p):
    # The nearest-rank percentile, as HdrHistogram's ValueAtPercentile counts.
    values = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(values)))
    return values[rank - 1]


def main():
    directory = sys.argv[1]
    want_workers = int(sys.argv[2]) if len(sys.argv) > 2 else None
    summary = json.load(open(directory + "/summary.json"))
    problems = []
    records = []
    with open(directory + "/requests.jsonl") as f:
        for number, line in enumerate(f, 1):
            record = json.loads(line)
            if list(record.keys()) not in (KEYS, KEYS + ["chunk_gaps_ms"]):
                problems.append("line %d has keys %s" % (number, list(record.keys())))
            records.append(record)
    window = [r for r in records if r["in_window"]]
    ok = [r for r in window if r["outcome"] == "success"]
    if len(window) != summary["requests"]["in_window"]:
        problems.append("%d in-window records, summary %d" % (len(window), summary["requests"]["in_window"]))
    if len(ok) != summary["requests"]["succeeded"]:
        problems.append("%d successes, summary %d" % (len(ok), summary["requests"]["succeeded"]))
    for r in records:
        if r["sent_s"] is not None and r["sent_s"] + 1e-6 < r["intended_s"]:
            problems.append("sent before intended: %s" % r)
        if r["end_s"] is not None and r["sent_s"] is not None and r["end_s"] < r["sent_s"]:
            problems.append("ended before sent: %s" % r)
        if r["outcome"] == "success" and (r["ttft_ms"] is None or r["chunks"] < 1):
            problems.append("a success without a first chunk: %s" % r)
    # metrics.rawTokenTimes: every gap in order; they add up to last - first chunk (each gap
    # is rounded to 1 us) and their median is the summary's ITL p50.
    gaps = []
    for r in ok:
        if "chunk_gaps_ms" not in r or r["chunk_gaps_ms"] is None:
            continue
        if len(r["chunk_gaps_ms"]) != r["chunks"] - 1:
            problems.append("%d gaps for %d chunks: %s" % (len(r["chunk_gaps_ms"]), r["chunks"], r))
        span = 1000 * (r["last_chunk_s"] - r["first_chunk_s"])
        if abs(sum(r["chunk_gaps_ms"]) - span) > 0.002 * len(r["chunk_gaps_ms"]) + 0.002:
            problems.append("gaps add up to %.3f ms, chunks span %.3f ms" % (sum(r["chunk_gaps_ms"]), span))
        gaps.extend(r["chunk_gaps_ms"])
    figures = []
    if gaps:
        mine, theirs = percentile(gaps, 50), summary["latency"]["itl"]["percentiles"]["p50"]
        figures.append("itl p50 of %d gaps %.3f vs %.3f" % (len(gaps), mine, theirs))
        if abs(mine - theirs) > 0.002 * theirs + 0.002:
            problems.append("itl p50 of the gaps %.3f, summary %.3f" % (mine, theirs))
    for metric, key in (("ttft", "ttft_ms"), ("e2e_latency", "e2e_ms")):
        for p in (50, 99):
            mine = percentile([r[key] for r in ok], p)
            theirs = summary["latency"][metric]["percentiles"]["p%d" % p]
            figures.append("%s p%d %.3f vs %.3f" % (metric, p, mine, theirs))
            if abs(mine - theirs) > 0.002 * theirs + 0.002:
                problems.append("%s p%d of the records %.3f, summary %.3f" % (metric, p, mine, theirs))
    workers = sorted({r["worker"] for r in records})
    if want_workers is not None and len(workers) != want_workers:
        problems.append("records from workers %s, want %d" % (workers, want_workers))
    print("requests.jsonl: %d records (%d in the window, %d successes) from %s; %s"
          % (len(records), len(window), len(ok), ", ".join(workers), "; ".join(figures)))
    for problem in problems[:20]:
        print("FAIL: " + problem)
    sys.exit(1 if problems else 0)


main()
