#!/usr/bin/env bash
# The Grafana dashboard (deploy/grafana) and the Prometheus scrape config (deploy/prometheus)
# against a running controller:
#   - the dashboard is valid JSON, every panel has a PromQL target, every target uses the
#     dashboard's datasource variable and only defined template variables;
#   - every llmd_bench_* name its expressions and variable queries use is exported: bench-sim,
#     `serve --metrics-listen`, one worker and a 3 s constant-rate run, /metrics scraped before,
#     during and after the run (run-scoped series only exist while a run is active);
#   - with promtool: the scrape config passes `check config`, every expression passes
#     `check rules` (PromQL syntax, template variables substituted);
#   - with prometheus: a server runs the scrape config's jobs against the controller (the
#     Kubernetes pod job through file_sd with the __meta labels Kubernetes would give, so its
#     relabel rules are exercised), every dashboard expression succeeds through /api/v1/query
#     with the variables set as Grafana would, and the latency quantiles have values.
# Usage: dashboard_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?usage: dashboard_test.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: dashboard_test.sh BUILD_DIR SOURCE_DIR}
controller=$build/controller/bench-controller
worker=$build/worker/bench-worker
dashboard=$src/deploy/grafana/llm-d-bench-dashboard.json
scrape_config=$src/deploy/prometheus/scrape-config.yaml
# shellcheck source=tests/integration/lib.sh
source "$src/tests/integration/lib.sh"

# Debian's python3 has PyYAML (python3-yaml); a pyenv python3 first in PATH may not.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
have_yaml=0
"$py" -c 'import yaml' 2>/dev/null && have_yaml=1

# --- (a) the dashboard's structure, its expressions and the metric names they use ---------------
# Writes exprs.json (panel title, expression) and names.txt (one llmd_bench_* name a line).
"$py" - "$dashboard" "$work" <<'PY' || fail "the dashboard is not well formed"
import json, re, sys
path, work = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(path))
except ValueError as e:
    sys.exit(f"{path}: not JSON: {e}")
errors = []
if d.get("uid") != "llm-d-bench":
    errors.append(f"uid is {d.get('uid')!r}, want 'llm-d-bench'")
variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
ds = variables.get("datasource", {})
if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    errors.append("no `datasource` template variable of type datasource/prometheus")
defined = set(variables) | {"__rate_interval", "__interval", "__range", "__interval_ms",
                            "__range_s", "__range_ms"}
var_ref = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")

def panels(ps):  # panels of collapsed rows nest under the row
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))

exprs = []
all_panels = list(panels(d.get("panels", [])))
if not any(p.get("type") != "row" for p in all_panels):
    errors.append("no panels")
for p in all_panels:
    if p.get("type") == "row":  # layout only
        continue
    title = p.get("title", f"panel {p.get('id')}")
    targets = [t for t in p.get("targets", []) if t.get("expr", "").strip()]
    if not targets:
        errors.append(f"panel {title!r} has no target with an expr")
    for t in [p] + targets:
        uid = (t.get("datasource") or {}).get("uid")
        if uid != "${datasource}":
            errors.append(f"panel {title!r}: datasource uid {uid!r}, want '${{datasource}}'")
    exprs += [(title, t["expr"]) for t in targets]
# Variable queries name metrics too (label_values(llmd_bench_ready, job)).
for v in variables.values():
    q = v.get("query")
    q = q.get("query", "") if isinstance(q, dict) else (q or "")
    if v.get("type") == "query":
        exprs.append((f"variable ${v['name']}", q))
for title, e in exprs:
    for m in var_ref.finditer(e):
        name = next(g for g in m.groups() if g)
        if name not in defined:
            errors.append(f"{title!r}: undefined template variable ${name}")
if errors:
    sys.exit("\n".join(errors))
json.dump(exprs, open(f"{work}/exprs.json", "w"))
names = sorted({n for _, e in exprs for n in re.findall(r"\bllmd_bench_\w+", e)})
if not names:
    sys.exit("no llmd_bench_* metric in any expression")
open(f"{work}/names.txt", "w").write("".join(n + "\n" for n in names))
print(f"dashboard: {sum(p.get('type') != 'row' for p in all_panels)} panels, "
      f"{len(exprs)} expressions, {len(names)} llmd_bench_* names")
PY

# subst_exprs OUT JOB INSTANCE: exprs.json with the template variables set as Grafana would.
subst_exprs() {
  "$py" - "$work/exprs.json" "$1" "$2" "$3" <<'PY'
import json, re, sys
exprs = json.load(open(sys.argv[1]))
values = {"__rate_interval": "1m", "__interval": "15s", "__interval_ms": "15000",
          "__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
          "job": sys.argv[3], "instance": sys.argv[4], "datasource": "prometheus"}
var_ref = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
out = [[t, var_ref.sub(lambda m: values[next(g for g in m.groups() if g)], e)]
       for t, e in exprs if not e.startswith("label_values(")]
json.dump(out, open(sys.argv[2], "w"))
PY
}

# --- (b, c) a controller with a run, its /metrics before, during and after ------------------------
start_sim "$work/sim.log" --model m --ttft 20ms --itl 5ms
"$controller" serve --insecure --listen 127.0.0.1:0 --allow-target 127.0.0.1/32 \
  --results-dir "$work/results" --metrics-listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pids+=($!)
port=$(wait_port "$work/serve.log" "serve: listening on") || fail "serve did not start"
metrics_port=$(wait_port "$work/serve.log" "metrics: listening on") || fail "no metrics port"
metrics_url=http://127.0.0.1:$metrics_port/metrics
mkdir "$work/scrapes"
curl -sf "$metrics_url" >"$work/scrapes/idle.txt" || fail "no /metrics"

# Prometheus starts before the run so that its rate() windows cover it. The scrape config's jobs,
# pointed at this controller: the static job's target replaced, the pod job discovered through
# file_sd with what Kubernetes discovery would label (an annotated controller pod whose container
# port is not the metrics port, an unannotated pod and a finished annotated pod).
prom_port=""
if command -v prometheus >/dev/null 2>&1 && [ "$have_yaml" = 1 ]; then
  cat >"$work/pods.json" <<JSON
[
  {"targets": ["127.0.0.1:7070"],
   "labels": {"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
              "__meta_kubernetes_pod_annotation_prometheus_io_port": "$metrics_port",
              "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
              "__meta_kubernetes_pod_ip": "127.0.0.1", "__meta_kubernetes_pod_phase": "Running",
              "__meta_kubernetes_namespace": "bench",
              "__meta_kubernetes_pod_name": "llm-d-bench-controller-0",
              "__meta_kubernetes_pod_label_app_kubernetes_io_name": "llm-d-bench"}},
  {"targets": ["127.0.0.1:9"],
   "labels": {"__meta_kubernetes_pod_ip": "127.0.0.1", "__meta_kubernetes_pod_phase": "Running",
              "__meta_kubernetes_namespace": "bench", "__meta_kubernetes_pod_name": "unrelated"}},
  {"targets": ["127.0.0.1:9"],
   "labels": {"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
              "__meta_kubernetes_pod_annotation_prometheus_io_port": "9",
              "__meta_kubernetes_pod_ip": "127.0.0.1", "__meta_kubernetes_pod_phase": "Succeeded",
              "__meta_kubernetes_namespace": "bench", "__meta_kubernetes_pod_name": "finished"}}
]
JSON
  "$py" - "$scrape_config" "$work/prometheus.yml" "$metrics_port" "$work/pods.json" <<'PY'
import sys, yaml
config, out, port, pods = sys.argv[1:]
c = yaml.safe_load(open(config))
c["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
for job in c["scrape_configs"]:
    job["scrape_interval"] = job["scrape_timeout"] = "1s"
    if "static_configs" in job:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    if "kubernetes_sd_configs" in job:
        del job["kubernetes_sd_configs"]
        job["file_sd_configs"] = [{"files": [pods]}]
yaml.safe_dump(c, open(out, "w"), sort_keys=False)
PY
  start_prometheus "$work/prometheus.yml"
  prom=http://127.0.0.1:$prom_port
fi

"$worker" --controller "127.0.0.1:$port" --insecure --threads 1 --name w1 \
  >"$work/worker.log" 2>&1 &
pids+=($!)
connected=0
for _ in $(seq 100); do
  curl -s "$metrics_url" | grep -q '^llmd_bench_workers_connected 1$' && { connected=1; break; }
  sleep 0.1
done
[ "$connected" = 1 ] || fail "the worker did not connect in 10 s"

# Both jobs up before the run, so Prometheus holds samples from before it started.
if [ -n "$prom_port" ]; then
  up=""
  for _ in $(seq 100); do
    up=$(curl -s --get --data-urlencode 'query=sum(up)' "$prom/api/v1/query" |
      "$py" -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else 0)')
    [ "$up" = 2 ] && break
    sleep 0.1
  done
  [ "$up" = 2 ] || fail "prometheus: $up of the 2 scrape jobs up: $(curl -s "$prom/api/v1/targets")"
fi

cat >"$work/run.yaml" <<YAML
benchmark: {name: dashboard, duration: 3}
target: {endpoint: "http://127.0.0.1:$sim_port/v1/completions", model: m}
load: {type: constant, rate: 20}
prompts: {inputLength: {mean: 20, stddev: 2}, outputLength: {mean: 5, stddev: 1}}
output: {formats: [json]}
YAML
"$controller" submit --controller "127.0.0.1:$port" --insecure --config "$work/run.yaml" \
  --detach --quiet >"$work/submit.out" 2>&1 || fail "submit: $(cat "$work/submit.out")"

# Scrape while the run is active (its run_info and run-so-far quantiles exist only then), then
# once after it ended.
active=0 n=0
for _ in $(seq 200); do  # 20 s
  n=$((n + 1))
  curl -sf "$metrics_url" >"$work/scrapes/$n.txt" || fail "scrape $n failed"
  if grep -q '^llmd_bench_run_active 1$' "$work/scrapes/$n.txt"; then
    active=1
  elif [ "$active" = 1 ]; then
    break
  fi
  sleep 0.1
done
[ "$active" = 1 ] || fail "llmd_bench_run_active never became 1"
grep -q '^llmd_bench_run_active 0$' "$work/scrapes/$n.txt" || fail "the run did not end in 20 s"
curl -sf "$metrics_url" >"$work/scrapes/after.txt" || fail "no /metrics after the run"
grep -q '^llmd_bench_runs_finished_total{state="done"} 1$' "$work/scrapes/after.txt" ||
  fail "the run did not finish done: $(grep runs_finished "$work/scrapes/after.txt")"

# What a scrape can contain: a histogram family's _bucket/_sum/_count series, other families by
# name (from `# TYPE`, so families without samples right now count), and every sample name seen.
# A dashboard name must be one of them: a histogram's family name alone matches no series.
missing=$("$py" - "$work/names.txt" "$work"/scrapes/*.txt 2>"$work/families.txt" <<'PY'
import re, sys
names = open(sys.argv[1]).read().split()
exposed, families = set(), set()
for path in sys.argv[2:]:
    for line in open(path):
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            family, kind = m.groups()
            families.add(family)
            if kind == "histogram":
                exposed.update(family + s for s in ("_bucket", "_sum", "_count"))
            elif kind == "summary":
                exposed.update((family, family + "_sum", family + "_count"))
            else:
                exposed.add(family)
        elif line.strip() and not line.startswith("#"):
            exposed.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
print(" ".join(n for n in names if n not in exposed))
used = {re.sub(r"_(bucket|sum|count)$", "", n) if n not in families else n for n in names}
print(f"{len(names)} names in {len(used)} families of the {len(families)} exported",
      file=sys.stderr)
PY
) || fail "reading the scrapes: $(cat "$work/families.txt")"
[ -z "$missing" ] || fail "the dashboard uses metrics the controller does not export: $missing"
echo "metrics: every dashboard name exported ($(cat "$work/families.txt"), $n scrapes)"

# --- (d) promtool: the scrape config and every expression's syntax --------------------------------
if command -v promtool >/dev/null 2>&1; then
  if promtool check config "$scrape_config" >"$work/promtool-config.out" 2>&1; then
    echo "promtool check config: ok"
  elif grep -q "field kubernetes_sd_configs not found" "$work/promtool-config.out" &&
    [ "$have_yaml" = 1 ]; then
    # Debian builds Prometheus without Kubernetes discovery: check everything else (the relabel
    # rules included) with the pod job discovered from a file instead.
    "$py" - "$scrape_config" "$work/scrape-no-k8s.yaml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
for job in c["scrape_configs"]:
    sd = job.pop("kubernetes_sd_configs", None)
    if sd is not None:
        assert [s.get("role") for s in sd] == ["pod"], f"kubernetes_sd_configs: {sd}"
        job["file_sd_configs"] = [{"files": ["pods.json"]}]
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
PY
    promtool check config "$work/scrape-no-k8s.yaml" >"$work/promtool-config.out" 2>&1 ||
      fail "promtool check config: $(cat "$work/promtool-config.out")"
    echo "promtool check config: ok (this promtool has no Kubernetes discovery: checked with" \
      "kubernetes_sd_configs {role: pod} replaced by file_sd_configs)"
  elif grep -q "field kubernetes_sd_configs not found" "$work/promtool-config.out"; then
    echo "SKIP promtool check config: this promtool has no Kubernetes discovery and no PyYAML" \
      "to check the rest (apt-get install python3-yaml)"
  else
    fail "promtool check config: $(cat "$work/promtool-config.out")"
  fi
  # Each expression as a recording rule: promtool parses it as Prometheus would.
  subst_exprs "$work/exprs-rules.json" bench-controller 127.0.0.1:9464
  "$py" -c '
import json, re, sys
exprs = json.load(open(sys.argv[1]))
# Recorded under the panel title, so that an error names the panel.
rules = [{"record": "dashboard:" + re.sub(r"\W+", "_", t).strip("_").lower() + f":{i}", "expr": e}
         for i, (t, e) in enumerate(exprs)]
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))
' "$work/exprs-rules.json" "$work/rules.json"
  promtool check rules "$work/rules.json" >"$work/promtool-rules.out" 2>&1 ||
    fail "dashboard PromQL: $(cat "$work/promtool-rules.out")"
  echo "promtool check rules: $(grep -o 'SUCCESS: [0-9]* rules found' "$work/promtool-rules.out")"
else
  echo "SKIP promtool checks: no promtool (apt-get install prometheus)"
fi

# --- (d) Prometheus: the jobs' targets and every expression over the stored run ----------------
if [ -n "$prom_port" ]; then
  "$py" - "$prom" "$metrics_port" <<'PY' || fail "prometheus targets not as the relabel rules say"
import json, sys, urllib.request
prom, port = sys.argv[1], sys.argv[2]
t = json.load(urllib.request.urlopen(f"{prom}/api/v1/targets"))["data"]
pods = [a for a in t["activeTargets"] if a["labels"]["job"] == "kubernetes-pods"]
want = f"http://127.0.0.1:{port}/metrics"
assert len(pods) == 1, f"pod job targets: {pods}"
assert pods[0]["scrapeUrl"] == want, f"pod target {pods[0]['scrapeUrl']}, want {want}"
labels = pods[0]["labels"]
assert labels.get("namespace") == "bench" and labels.get("pod") == "llm-d-bench-controller-0" \
    and labels.get("app_kubernetes_io_name") == "llm-d-bench", f"pod labels {labels}"
dropped = [d["discoveredLabels"].get("__meta_kubernetes_pod_name") for d in t["droppedTargets"]]
assert sorted(dropped) == ["finished", "unrelated"], f"dropped: {dropped}"
print(f"prometheus: pod job scrapes {want} as {labels['namespace']}/{labels['pod']}; "
      f"dropped {', '.join(sorted(dropped))}")
PY
  # Let the scrapes after the run land, then query as Grafana would for the pod job's controller.
  sleep 2
  subst_exprs "$work/exprs-live.json" kubernetes-pods "127.0.0.1:$metrics_port"
  "$py" - "$prom" "$work/exprs-live.json" <<'PY' || fail "dashboard queries against Prometheus"
import json, math, sys, urllib.parse, urllib.request
prom, path = sys.argv[1], sys.argv[2]
failed, with_data, quantiles = [], 0, {}
exprs = json.load(open(path))
# The variable queries' own source: label_values(llmd_bench_ready, job).
series = json.load(urllib.request.urlopen(
    f"{prom}/api/v1/series?" + urllib.parse.urlencode({"match[]": "llmd_bench_ready"})))["data"]
jobs = sorted({s["job"] for s in series})
assert jobs == ["kubernetes-pods", "llm-d-bench-controller"], f"$job choices: {jobs}"
for title, expr in exprs:
    try:
        r = json.load(urllib.request.urlopen(
            f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
    except urllib.error.HTTPError as e:
        r = json.load(e)
    if r.get("status") != "success":
        failed.append(f"{title}: {expr}: {r.get('error')}")
        continue
    values = [float(s["value"][1]) for s in r["data"]["result"]]
    with_data += bool(values)
    if expr.startswith("histogram_quantile("):
        quantiles[expr] = values
for f in failed:
    print("query failed:", f)
empty = [e for e, v in quantiles.items() if not v or not all(math.isfinite(x) and x > 0 for x in v)]
for e in empty:
    print("no quantile over the run:", e)
if failed or empty:
    sys.exit(1)
print(f"prometheus: {len(exprs)} dashboard queries succeeded ({with_data} with data now, "
      f"{len(quantiles)} histogram quantiles over the run), $job lists {', '.join(jobs)}")
PY
else
  echo "SKIP Prometheus queries: no prometheus binary or no PyYAML" \
    "(apt-get install prometheus python3-yaml)"
fi

echo "dashboard test: ok"
