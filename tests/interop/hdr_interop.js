// Interop between our HdrHistogram codec (hdr_interop_tool) and hdr-histogram-js, both ways:
//  (a) the tool records seeded histograms and encodes them; hdr-histogram-js decodes each and
//      must agree exactly on layout, every bucket, every percentile, min, max, mean and stddev;
//      what hdr-histogram-js re-encodes must decode in the tool to the same buckets again;
//  (b) hdr-histogram-js records seeded samples and encodes them; the tool decodes them and must
//      agree exactly with hdr-histogram-js's own view.
// Usage: node hdr_interop.js --tool PATH [--seed N]. Exits 1 on any mismatch.
"use strict";

const { execFileSync } = require("child_process");

const hdr = require("./hdr_module");

const args = process.argv.slice(2);
const argValue = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const tool = argValue("--tool", null);
const seed = Number(argValue("--seed", "12345"));
if (!tool) {
  console.error("usage: node hdr_interop.js --tool PATH [--seed N]");
  process.exit(2);
}

const LAYOUT = { lowest: 1, highest: 3600000000, digits: 3 };
// bitBucketSize 64 (Float64 counts): exact up to 2^53, so large counts survive; layout as ours.
const BIT_BUCKET_SIZE = 64;

const errors = [];
const fail = (message) => {
  if (errors.length < 50) console.error("MISMATCH " + message);
  errors.push(message);
};

function runTool(toolArgs, input) {
  const out = execFileSync(tool, toolArgs, {
    input: input === undefined ? "" : input,
    maxBuffer: 256 * 1024 * 1024,
  });
  return JSON.parse(out.toString());
}

// hdr-histogram-js's view of a histogram, in the tool's JSON shape (Java's getMinValue and
// getMaxValue definitions: lowest/highest equivalent values of the extreme recorded values).
function jsView(h, percentiles) {
  const buckets = [];
  for (let i = 0; i < h.countsArrayLength; i++) {
    const count = h.getCountAtIndex(i);
    if (count > 0) buckets.push([i, h.valueFromIndex(i), count]);
  }
  const total = h.totalCount;
  const min = total === 0 || h.getCountAtIndex(0) > 0 ? 0 : h.lowestEquivalentValue(h.minNonZeroValue);
  const max = h.maxValue === 0 ? 0 : h.highestEquivalentValue(h.maxValue);
  return {
    total_count: total,
    min,
    max,
    mean: h.mean,
    stddev: h.stdDeviation,
    layout: {
      lowest: h.lowestDiscernibleValue,
      highest: h.highestTrackableValue,
      digits: h.numberOfSignificantValueDigits,
      bucket_count: h.bucketCount,
      sub_bucket_count: h.subBucketCount,
      counts_length: h.countsArrayLength,
    },
    percentiles: percentiles.map((p) => [p, h.getValueAtPercentile(p)]),
    buckets,
  };
}

function compare(label, ours, theirs) {
  for (const key of ["total_count", "min", "max", "mean", "stddev"]) {
    if (ours[key] !== theirs[key]) fail(`${label}: ${key} ours=${ours[key]} js=${theirs[key]}`);
  }
  for (const key of Object.keys(theirs.layout)) {
    if (ours.layout[key] !== theirs.layout[key]) {
      fail(`${label}: layout.${key} ours=${ours.layout[key]} js=${theirs.layout[key]}`);
    }
  }
  if (ours.percentiles.length !== theirs.percentiles.length) {
    fail(`${label}: ${ours.percentiles.length} percentiles vs ${theirs.percentiles.length}`);
  }
  ours.percentiles.forEach(([p, v], i) => {
    const [jp, jv] = theirs.percentiles[i] || [];
    if (p !== jp || v !== jv) fail(`${label}: p${p} ours=${v} js(p${jp})=${jv}`);
  });
  if (ours.buckets.length !== theirs.buckets.length) {
    fail(`${label}: ${ours.buckets.length} non-zero buckets ours vs ${theirs.buckets.length} js`);
  }
  const n = Math.min(ours.buckets.length, theirs.buckets.length);
  for (let i = 0; i < n; i++) {
    const [oi, ov, oc] = ours.buckets[i];
    const [ji, jv, jc] = theirs.buckets[i];
    if (oi !== ji || ov !== jv || oc !== jc) {
      fail(`${label}: bucket #${i} ours=(index ${oi}, value ${ov}, count ${oc}) ` +
           `js=(index ${ji}, value ${jv}, count ${jc})`);
    }
  }
}

// (a) ours -> hdr-histogram-js, and back.
const generated = runTool(["generate", String(seed)]);
const percentileList = generated.length > 0 ? generated[0].percentiles.map(([p]) => p) : [];
const reencoded = [];
for (const ours of generated) {
  const js = hdr.decodeFromCompressedBase64(ours.base64, BIT_BUCKET_SIZE);
  compare(`ours->js ${ours.name}`, ours, jsView(js, percentileList));
  reencoded.push({ name: ours.name, ours, base64: hdr.encodeIntoCompressedBase64(js) });
}
const roundTripped = runTool(["describe"], reencoded.map((r) => `${r.name} ${r.base64}\n`).join(""));
roundTripped.forEach((back, i) => compare(`ours->js->ours ${back.name}`, back, reencoded[i].ours));

// (b) hdr-histogram-js -> ours. A small seeded PRNG (mulberry32) so runs repeat.
function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(seed);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const clampValue = (v) => Math.min(Math.max(Math.floor(v), 0), LAYOUT.highest);
const jsCases = [
  ["js_empty", 0, () => 0],
  ["js_single", 1, () => 987654],
  ["js_uniform", 20000, () => rand() * 5e6],
  ["js_exponential", 30000, () => -150000 * Math.log(1 - rand())],
  ["js_lognormal", 50000, () => Math.exp(Math.log(200000) + 0.8 * gaussian())],
  ["js_bimodal", 20000, () => (rand() < 0.3 ? 2e6 + 3e5 * gaussian() : 3000 + 500 * gaussian())],
  ["js_pareto", 50000, () => 500 / Math.pow(1 - rand(), 1 / 0.6)],
  ["js_small", 500, () => rand() * 40],
];
const jsHistograms = [];
for (const [name, n, draw] of jsCases) {
  const h = hdr.build({
    lowestDiscernibleValue: LAYOUT.lowest,
    highestTrackableValue: LAYOUT.highest,
    numberOfSignificantValueDigits: LAYOUT.digits,
    bitBucketSize: BIT_BUCKET_SIZE,
    autoResize: false,
    useWebAssembly: false,
  });
  for (let i = 0; i < n; i++) h.recordValue(clampValue(draw()));
  if (name === "js_small") h.recordValueWithCount(1000, 2 ** 40);
  jsHistograms.push({ name, h, base64: hdr.encodeIntoCompressedBase64(h) });
}
const decoded = runTool(["describe"], jsHistograms.map((c) => `${c.name} ${c.base64}\n`).join(""));
if (decoded.length !== jsHistograms.length) {
  fail(`tool described ${decoded.length} histograms, sent ${jsHistograms.length}`);
}
decoded.forEach((ours, i) => {
  const theirs = jsView(jsHistograms[i].h, ours.percentiles.map(([p]) => p));
  compare(`js->ours ${ours.name}`, ours, theirs);
});

const checked = generated.length + roundTripped.length + decoded.length;
if (errors.length > 0) {
  console.error(`hdr_interop: ${errors.length} mismatches over ${checked} histograms`);
  process.exit(1);
}
if (checked < 2 * 10 + 8) {
  console.error(`hdr_interop: only ${checked} histograms compared`);
  process.exit(1);
}
console.log(`hdr_interop: ${checked} histograms agree exactly with hdr-histogram-js (seed ${seed})`);
