#!/usr/bin/python3
"""The chart's in-cluster story rehearsed on loopback: the controller, bench-sim and workers start
with the very command lines `helm template` renders (Secrets and ConfigMaps written where their
volumes are mounted, Service names mapped to 127.0.0.1, listen ports to free ones). Two workers
run a benchmark; two more join (a scale-out) and the next run uses four whose shares sum to the
target; `list` shows both; the helm test Job's commands pass; /metrics answers through the
rendered probe paths.

Usage: rehearsal_test.py HELM BUILD_DIR SOURCE_DIR
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

HELM, BUILD, SOURCE = (os.path.abspath(a) for a in sys.argv[1:4])
CHART = os.path.join(SOURCE, "helm", "llm-d-bench")
BINARIES = {
    "bench-controller": os.path.join(BUILD, "controller", "bench-controller"),
    "bench-worker": os.path.join(BUILD, "worker", "bench-worker"),
    "bench-sim": os.path.join(BUILD, "sim", "bench-sim"),
}
RELEASE, NAMESPACE = "bench", "perf"
work = tempfile.mkdtemp(prefix="rehearsal-")
processes = []


def cleanup():
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(work, ignore_errors=True)


def fail(message):
    print("FAIL: " + message)
    for name in sorted(os.listdir(work)):
        if name.endswith(".log"):
            print("--- %s (last lines)" % name)
            with open(os.path.join(work, name), errors="replace") as log:
                print("".join(log.readlines()[-15:]), end="")
    cleanup()
    sys.exit(1)


# --- render ------------------------------------------------------------------------------------
rendered = subprocess.run(
    [HELM, "template", RELEASE, CHART, "--namespace", NAMESPACE,
     "-f", os.path.join(CHART, "ci", "smoke-values.yaml"),
     "--set", "controller.caps.maxRate=1000", "--set", "controller.caps.maxDuration=10m",
     "--set", "controller.caps.maxWorkers=8", "--set", "controller.logLevel=INFO"],
    capture_output=True, text=True)
if rendered.returncode != 0:
    fail("helm template: " + rendered.stderr)
objects = [o for o in yaml.safe_load_all(rendered.stdout) if o]
by_kind = {}
for obj in objects:
    by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj


def one(kind, suffix):
    found = [o for name, o in by_kind.get(kind, {}).items() if name.endswith(suffix)]
    if len(found) != 1:
        fail("want one %s *%s in the render, got %d" % (kind, suffix, len(found)))
    return found[0]


def materialize(pod_name, pod_spec, container):
    """Writes the container's Secret/ConfigMap volumes under work/ and returns a function that
    maps a path inside the container to the file here."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    mounts = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes[mount["name"]]
        directory = os.path.join(work, pod_name, mount["name"])
        os.makedirs(directory, exist_ok=True)
        source = None
        if "secret" in volume:
            secret = by_kind["Secret"][volume["secret"]["secretName"]]
            source = {k: base64.b64decode(v) for k, v in secret["data"].items()}
            items = volume["secret"].get("items")
        elif "configMap" in volume:
            config_map = by_kind["ConfigMap"][volume["configMap"]["name"]]
            # Service names in a config resolve here to loopback, as cluster DNS would there.
            source = {k: substitute_services(v).encode() for k, v in config_map["data"].items()}
            items = volume["configMap"].get("items")
        if source is not None:
            for item in items or [{"key": k, "path": k} for k in source]:
                with open(os.path.join(directory, item["path"]), "wb") as out:
                    out.write(source[item["key"]])
        mounts[mount["mountPath"]] = directory

    def local(path):
        for mount_path, directory in mounts.items():
            if path == mount_path or path.startswith(mount_path + "/"):
                return directory + path[len(mount_path):]
        return path
    return local


# Service names as pods dial them, mapped to the loopback ports the processes really listen on.
services = {}  # "name.ns.svc:port" -> "127.0.0.1:port"; "name.ns.svc" -> "127.0.0.1"


def substitute_services(text):
    for name in sorted(services, key=len, reverse=True):
        text = text.replace(name, services[name])
    return text


def localize(args, local):
    out = []
    for arg in args:
        arg = str(arg)
        if arg.startswith("/"):
            arg = local(arg)
        # Listening on every interface in a pod: port 0 on loopback here (the log says which).
        arg = re.sub(r"^0\.0\.0\.0:\d+$", "127.0.0.1:0", arg)
        out.append(substitute_services(arg))
    return out


def container_command(obj, index=0, init=False):
    pod = obj["spec"]["template"]["spec"]
    container = (pod["initContainers"] if init else pod["containers"])[index]
    local = materialize(obj["metadata"]["name"] + ("-init" if init else ""), pod, container)
    return container, local


def start(name, obj, port_patterns):
    """Starts a rendered Deployment's container; returns the ports it logged, by pattern."""
    container, local = container_command(obj)
    binary = BINARIES[container["command"][0]]
    args = localize(container["args"], local)
    env = dict(os.environ)
    for variable in container.get("env") or []:
        env[variable["name"]] = str(variable["value"])
    log_path = os.path.join(work, name + ".log")
    log = open(log_path, "w")
    process = subprocess.Popen([binary, *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                               cwd=work)
    processes.append(process)
    ports = {}
    deadline = time.time() + 15
    while len(ports) < len(port_patterns) and time.time() < deadline:
        if process.poll() is not None:
            fail("%s exited with %d: %s" % (name, process.returncode, " ".join(args)))
        text = open(log_path, errors="replace").read()
        for key, pattern in port_patterns.items():
            match = re.search(pattern + r" 127\.0\.0\.1:(\d+)", text)
            if match:
                ports[key] = int(match.group(1))
        time.sleep(0.05)
    if len(ports) < len(port_patterns):
        fail("%s did not log its ports %s" % (name, list(port_patterns)))
    return ports, args


# --- bench-sim and the controller, as rendered -------------------------------------------------
sim = one("Deployment", "-sim")
sim_ports, sim_args = start("sim", sim, {"http": "bench-sim listening on"})
sim_service = one("Service", "-sim")
sim_host = "%s.%s.svc" % (sim_service["metadata"]["name"], NAMESPACE)
services["%s:%d" % (sim_host, sim_service["spec"]["ports"][0]["port"])] = \
    "127.0.0.1:%d" % sim_ports["http"]
services[sim_host] = "127.0.0.1"

controller = one("Deployment", "-controller")
controller_ports, controller_args = start(
    "controller", controller, {"grpc": "serve: listening on", "metrics": "metrics: listening on"})
print("controller: bench-controller " + " ".join(controller_args))
controller_service = one("Service", "-controller")
controller_host = "%s.%s.svc" % (controller_service["metadata"]["name"], NAMESPACE)
ports_by_name = {p["name"]: p["port"] for p in controller_service["spec"]["ports"]}
services["%s:%d" % (controller_host, ports_by_name["grpc"])] = \
    "127.0.0.1:%d" % controller_ports["grpc"]

# The probes the Deployment renders answer on the metrics port.
container = controller["spec"]["template"]["spec"]["containers"][0]
for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
    path = container[probe]["httpGet"]["path"]
    url = "http://127.0.0.1:%d%s" % (controller_ports["metrics"], path)
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.05)
    else:
        fail("%s %s does not answer 200" % (probe, url))
print("probes: /healthz and /readyz answer 200 on the metrics port")

# --- the client side: the helm test Job's flags (its CA and token) -----------------------------
job = one("Job", "-test")
status_container, status_local = container_command(job, init=True)
client_flags = localize(status_container["args"][1:], status_local)


def controller_cli(*args, timeout=120):
    return subprocess.run([BINARIES["bench-controller"], *args, *client_flags],
                          capture_output=True, text=True, timeout=timeout, cwd=work)


workers = one("Deployment", "-worker")


def start_workers(count, first):
    for index in range(first, first + count):
        start("worker-%d" % index, workers, {})


def wait_workers(count):
    for _ in range(300):
        result = controller_cli("status", "--json")
        if result.returncode == 0 and len(json.loads(result.stdout).get("workers", [])) == count:
            return
        time.sleep(0.05)
    fail("the controller does not see %d workers: %s" % (count, result.stdout + result.stderr))


replicas = workers["spec"]["replicas"]
start_workers(replicas, 1)
wait_workers(replicas)
result = controller_cli("status")
if result.returncode != 0 or "%d connected" % replicas not in result.stdout:
    fail("status: %s" % (result.stdout + result.stderr))
print("status (the test Job's first step):\n" + result.stdout.rstrip())

# --- two runs: the chart's replicas, then after a scale-out to four ----------------------------
test_config = os.path.join(work, "bench.yaml")
config_map = one("ConfigMap", "-test")
with open(test_config, "w") as out:
    out.write(substitute_services(config_map["data"]["benchmark.yaml"]))


def submit(workers_wanted, rate):
    result = controller_cli("submit", "--config", test_config, "--output",
                            os.path.join(work, "client"), "--quiet",
                            "--set", "cluster.workers=%d" % workers_wanted,
                            "--set", "benchmark.duration=3",
                            "--set", "load.type=poisson", "--set", "load.rate=%g" % rate,
                            "--set", "load.concurrency=64")
    match = re.search(r"^results: (.*)$", result.stdout, re.M)
    if result.returncode != 0 or not match:
        fail("submit with %d workers: exit %d: %s" % (workers_wanted, result.returncode,
                                                      result.stdout + result.stderr))
    summary = json.load(open(os.path.join(match.group(1), "summary.json")))
    shares = summary["workers"]
    total_rate = sum(w["rate"] for w in shares)
    total_concurrency = sum(w["concurrency"] for w in shares)
    requests = summary["requests"]
    if len(shares) != workers_wanted or summary["engine"]["workers"] != workers_wanted:
        fail("the run used %d workers, want %d" % (len(shares), workers_wanted))
    if abs(total_rate - rate) > 1e-9 * rate or total_concurrency != 64:
        fail("shares sum to %r req/s and %d concurrency, want %r and 64" %
             (total_rate, total_concurrency, rate))
    if requests["succeeded"] <= 0 or requests["failed"] != 0:
        fail("the run did not succeed: %s" % requests)
    print("run with %d workers: shares %s req/s (sum %g = target %g), concurrency %s (sum %d); "
          "%d requests succeeded" % (workers_wanted, [round(w["rate"], 3) for w in shares],
                                     total_rate, rate, [w["concurrency"] for w in shares],
                                     total_concurrency, requests["succeeded"]))
    return summary


submit(replicas, 24)
start_workers(2, replicas + 1)  # kubectl scale --replicas=4
wait_workers(replicas + 2)
submit(replicas + 2, 24)
result = controller_cli("list")
rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
worker_counts = [row[3] for row in rows]  # newest first
if result.returncode != 0 or worker_counts != [str(replicas + 2), str(replicas)]:
    fail("list does not show the scale-out: %s" % result.stdout)
print("list:\n" + result.stdout.rstrip())

# --- the helm test Job's run, as rendered (10 s against the sim) --------------------------------
run_container, run_local = container_command(job)
run_args = localize(run_container["args"], run_local)
started = time.time()
result = subprocess.run([BINARIES["bench-controller"], *run_args], capture_output=True, text=True,
                        timeout=120, cwd=work)
if result.returncode != 0 or "results: " not in result.stdout:
    fail("the helm test run: exit %d: %s" % (result.returncode, result.stdout + result.stderr))
print("helm test run: bench-controller %s -> exit 0 in %.1f s" %
      (" ".join(run_container["args"][:1] + ["..."]), time.time() - started))

# Nothing secret in the logs: the token and the private key stay in their files.
secrets = [base64.b64decode(v).decode(errors="replace") for s in by_kind["Secret"].values()
           for k, v in s["data"].items() if k in ("token", "tls.key")]
for name in os.listdir(work):
    if name.endswith(".log"):
        text = open(os.path.join(work, name), errors="replace").read()
        if any(secret.strip() in text for secret in secrets):
            fail("a secret appears in %s" % name)
cleanup()
print("rehearsal: passed")
