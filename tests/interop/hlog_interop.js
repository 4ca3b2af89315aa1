// histograms.hlog read by hdr-histogram-js's HistogramLogReader: every tag's interval lines
// added together must give the summary's counts and percentiles for that metric exactly (the
// summary's milliseconds are the histogram's microseconds / 1000, rounded to 3 decimals).
// Usage: node hlog_interop.js RESULTS_DIR. Exits 1 on any mismatch.
"use strict";

const fs = require("fs");
const path = require("path");

const hdr = require("./hdr_module");

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node hlog_interop.js RESULTS_DIR");
  process.exit(2);
}
const summary = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8"));
const reader = new hdr.HistogramLogReader(fs.readFileSync(path.join(dir, "histograms.hlog"), "utf8"), 64);
const byTag = new Map();
const linesByTag = new Map();
for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
  if (!byTag.has(h.tag)) {
    // The layout our histograms have (1 us to 1 h, 3 digits), with exact Float64 counts.
    byTag.set(h.tag, hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3600000000,
      numberOfSignificantValueDigits: 3,
      bitBucketSize: 64,
      autoResize: false,
      useWebAssembly: false,
    }));
    linesByTag.set(h.tag, 0);
  }
  byTag.get(h.tag).add(h);
  linesByTag.set(h.tag, linesByTag.get(h.tag) + 1);
}

let failures = 0;
const fail = (message) => {
  console.log("FAIL: " + message);
  failures++;
};
const percentiles = summary.benchmark.percentiles;
for (const [metric, figures] of Object.entries(summary.latency)) {
  const histogram = byTag.get(metric);
  if (figures.count === 0) {
    if (histogram) fail(`${metric}: no samples in the summary, but lines in the log`);
    continue;
  }
  if (!histogram) {
    fail(`${metric}: ${figures.count} samples in the summary, no line in the log`);
    continue;
  }
  if (histogram.totalCount !== figures.count) {
    fail(`${metric}: count ${histogram.totalCount} in the log, ${figures.count} in the summary`);
  }
  const shown = [];
  for (const p of percentiles) {
    const fromLog = histogram.getValueAtPercentile(p) / 1000;
    const fromSummary = figures.percentiles["p" + p];
    if (Math.abs(fromLog - fromSummary) > 0.0005 + 1e-9) {
      fail(`${metric} p${p}: ${fromLog} ms from the log, ${fromSummary} ms in the summary`);
    }
    shown.push(`p${p} ${fromLog}`);
  }
  console.log(`${metric}: ${linesByTag.get(metric)} interval line(s), ${histogram.totalCount} ` +
              `samples, ${shown.join(" ")} ms: as the summary`);
}
if (failures > 0) {
  console.log(`hlog interop: ${failures} mismatch(es)`);
  process.exit(1);
}
console.log("hlog interop: ok");
