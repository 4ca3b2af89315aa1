#!/usr/bin/python3
"""The Helm chart, checked without a cluster: `helm lint --strict`, a render matrix whose every
stream is parsed by a YAML loader that rejects duplicate keys, policy assertions on every rendered
object, schema and template refusals of bad values, and the same policy on the one-shot Job of
deploy/k8s/benchmark-job.yaml.

Usage: chart_test.py HELM SOURCE_DIR
"""
import base64
import os
import re
import subprocess
import sys
import tempfile

import yaml

HELM, SOURCE = sys.argv[1], sys.argv[2]
CHART = os.path.join(SOURCE, "helm", "llm-d-bench")
RELEASE, NAMESPACE = "bench", "perf"
failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (Kubernetes would keep one
    silently; a template that emits two is a bug)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r" % (key,), key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_all(text, what):
    try:
        return [doc for doc in yaml.load_all(text, Loader=UniqueKeyLoader) if doc is not None]
    except yaml.YAMLError as error:
        fail("%s: not valid YAML: %s" % (what, error))
        return []


def helm(*args):
    return subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)


HELM_VERSION = helm("version", "--short").stdout.strip()
print("helm %s" % HELM_VERSION)


def render(case, args):
    result = helm("template", RELEASE, CHART, "--namespace", NAMESPACE, *args)
    if result.returncode != 0:
        fail("%s: helm template failed: %s" % (case, result.stderr.strip()))
        return []
    return load_all(result.stdout, case)


# --- policy on every rendered object ------------------------------------------------------------

REQUIRED_LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/instance",
                   "app.kubernetes.io/component", "app.kubernetes.io/version",
                   "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"]


def pod_templates(objects):
    """(object, pod template) for every object that runs pods."""
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield obj, spec["template"]


def secret_values(objects):
    """Every value held by a rendered Secret, decoded: none may appear in args or env."""
    values = []
    for obj in objects:
        if obj["kind"] != "Secret":
            continue
        for value in (obj.get("data") or {}).values():
            values.append(base64.b64decode(value).decode("utf-8", "replace"))
        values.extend((obj.get("stringData") or {}).values())
    return [v for v in values if len(v) >= 8]


def check_container(case, where, container, volumes, secrets):
    context = container.get("securityContext") or {}
    if context.get("readOnlyRootFilesystem") is not True:
        fail("%s: %s: readOnlyRootFilesystem is not true" % (case, where))
    if context.get("allowPrivilegeEscalation") is not False:
        fail("%s: %s: allowPrivilegeEscalation is not false" % (case, where))
    if context.get("runAsNonRoot") is not True:
        fail("%s: %s: runAsNonRoot is not true" % (case, where))
    if context.get("privileged"):
        fail("%s: %s: privileged" % (case, where))
    if (context.get("capabilities") or {}).get("drop") != ["ALL"]:
        fail("%s: %s: capabilities.drop is not [ALL]" % (case, where))
    if (context.get("capabilities") or {}).get("add"):
        fail("%s: %s: adds capabilities" % (case, where))
    if (context.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        fail("%s: %s: seccompProfile is not RuntimeDefault" % (case, where))
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if not (resources.get(kind) or {}).get(resource):
                fail("%s: %s: resources.%s.%s not set" % (case, where, kind, resource))
    image = container.get("image", "")
    if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
        fail("%s: %s: image %s has no tag" % (case, where, image))
    if image.endswith(":latest"):
        fail("%s: %s: image %s uses latest" % (case, where, image))
    ports = {p["name"] for p in container.get("ports") or [] if "name" in p}
    for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = container.get(probe_name)
        if not probe:
            continue
        port = (probe.get("httpGet") or probe.get("tcpSocket") or {}).get("port")
        if isinstance(port, str) and port not in ports:
            fail("%s: %s: %s names port %s, not a port of the container" %
                 (case, where, probe_name, port))
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in volumes:
            fail("%s: %s: mounts volume %s that the pod does not have" %
                 (case, where, mount["name"]))
    literals = list(container.get("args") or []) + list(container.get("command") or [])
    for env in container.get("env") or []:
        if "value" in env:
            literals.append(str(env["value"]))
            if re.search(r"TOKEN|PASSWORD|SECRET|KEY", env["name"]):
                fail("%s: %s: env %s is a literal, not a secret reference" %
                     (case, where, env["name"]))
    for literal in literals:
        for secret in secrets:
            if secret in str(literal):
                fail("%s: %s: a Secret's value appears in args or env" % (case, where))


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_policy(case, objects, secret_names_outside=()):
    """Every rule of the chart on one rendered stream."""
    if not objects:
        fail("%s: rendered nothing" % case)
        return
    names = set()
    for obj in objects:
        for field in ("apiVersion", "kind", "metadata"):
            if field not in obj:
                fail("%s: an object without %s" % (case, field))
                return
        key = (obj["kind"], obj["metadata"].get("name"))
        if key in names:
            fail("%s: %s %s rendered twice" % (case, *key))
        names.add(key)
        labels = obj["metadata"].get("labels") or {}
        for label in REQUIRED_LABELS:
            if label not in labels:
                fail("%s: %s %s lacks label %s" % (case, *key, label))
        if obj["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
            fail("%s: %s %s: the chart needs no RBAC" % (case, *key))
    secrets = secret_values(objects)
    secret_names = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
    certificate_secrets = {o["spec"]["secretName"] for o in objects if o["kind"] == "Certificate"}
    config_maps = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    claims = {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
    templates = list(pod_templates(objects))
    for obj, template in templates:
        where = "%s %s" % (obj["kind"], obj["metadata"]["name"])
        pod_labels = template["metadata"].get("labels") or {}
        selector = ((obj["spec"].get("selector") or {}).get("matchLabels"))
        if obj["kind"] != "Job" and (not selector or not matches(selector, pod_labels)):
            fail("%s: %s: selector %s does not match its pod labels" % (case, where, selector))
        for label in REQUIRED_LABELS:
            if label not in pod_labels:
                fail("%s: %s: pod lacks label %s" % (case, where, label))
        pod = template["spec"]
        if pod.get("automountServiceAccountToken") is not False:
            fail("%s: %s: the service account token is mounted" % (case, where))
        pod_context = pod.get("securityContext") or {}
        if pod_context.get("runAsNonRoot") is not True:
            fail("%s: %s: pod runAsNonRoot is not true" % (case, where))
        if (pod_context.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            fail("%s: %s: pod seccompProfile is not RuntimeDefault" % (case, where))
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            fail("%s: %s: uses the host's namespaces" % (case, where))
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for volume in volumes.values():
            # A non-root user reads a Secret's files through their group: fsGroup owns them.
            if "secret" in volume:
                mode = volume["secret"].get("defaultMode", 0o644)
                if not mode & 0o040 or pod_context.get("fsGroup") is None or \
                        pod_context.get("fsGroup") != pod_context.get("runAsGroup"):
                    fail("%s: %s: Secret volume %s is not readable by the pod's group "
                         "(defaultMode %o, fsGroup %s, runAsGroup %s)" %
                         (case, where, volume["name"], mode, pod_context.get("fsGroup"),
                          pod_context.get("runAsGroup")))
            if "hostPath" in volume:
                fail("%s: %s: hostPath volume %s" % (case, where, volume["name"]))
            secret = (volume.get("secret") or {}).get("secretName")
            if secret and secret not in secret_names | certificate_secrets | set(
                    secret_names_outside):
                fail("%s: %s: volume %s names Secret %s, which is neither rendered nor given" %
                     (case, where, volume["name"], secret))
            config_map = (volume.get("configMap") or {}).get("name")
            if config_map and config_map not in config_maps:
                fail("%s: %s: volume %s names ConfigMap %s, not rendered" %
                     (case, where, volume["name"], config_map))
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in claims | set(secret_names_outside):
                fail("%s: %s: volume %s names claim %s, not rendered" %
                     (case, where, volume["name"], claim))
        containers = list(pod.get("initContainers") or []) + list(pod["containers"])
        for container in containers:
            check_container(case, "%s container %s" % (where, container["name"]), container,
                            volumes, secrets)
    # Services, ServiceMonitors, NetworkPolicies, PDBs and HPAs point at something real.
    def pods_selected(selector):
        return [(o, t) for o, t in templates if o["kind"] != "Job" and matches(selector, t[
            "metadata"].get("labels") or {})]
    services = [o for o in objects if o["kind"] == "Service"]
    for service in services:
        where = "Service %s" % service["metadata"]["name"]
        selected = pods_selected(service["spec"].get("selector"))
        if not selected:
            fail("%s: %s selects no pod" % (case, where))
        for port in service["spec"]["ports"]:
            target = port.get("targetPort")
            if isinstance(target, str):
                for obj, template in selected:
                    named = {p.get("name") for c in template["spec"]["containers"]
                             for p in c.get("ports") or []}
                    if target not in named:
                        fail("%s: %s: targetPort %s is not a port of %s" %
                             (case, where, target, obj["metadata"]["name"]))
    for obj in objects:
        kind, spec = obj["kind"], obj.get("spec") or {}
        where = "%s %s" % (kind, obj["metadata"]["name"])
        if kind == "NetworkPolicy":
            selected = pods_selected(spec["podSelector"].get("matchLabels"))
            if not selected:
                fail("%s: %s selects no pod" % (case, where))
            for rule in spec.get("ingress") or []:
                for port in rule.get("ports") or []:
                    if isinstance(port.get("port"), str):
                        for _, template in selected:
                            named = {p.get("name") for c in template["spec"]["containers"]
                                     for p in c.get("ports") or []}
                            if port["port"] not in named:
                                fail("%s: %s: port %s is not a port of its pods" %
                                     (case, where, port["port"]))
        if kind == "NetworkPolicy" and spec["podSelector"]["matchLabels"].get(
                "app.kubernetes.io/component") == "controller":
            # The release's own workers and test pod must reach the controller's gRPC port.
            for obj2, template in templates:
                labels = template["metadata"].get("labels") or {}
                if labels.get("app.kubernetes.io/component") not in ("worker", "test"):
                    continue
                admitted = False
                for rule in spec.get("ingress") or []:
                    ports = [p.get("port") for p in rule.get("ports") or []]
                    if ports and "grpc" not in ports:
                        continue
                    peers = rule.get("from")
                    if not peers or any(
                            set(peer) == {"podSelector"} and
                            matches(peer["podSelector"].get("matchLabels"), labels)
                            for peer in peers):
                        admitted = True
                if not admitted:
                    fail("%s: %s does not admit %s %s on the gRPC port" %
                         (case, where, obj2["kind"], obj2["metadata"]["name"]))
        if kind == "PodDisruptionBudget" and not pods_selected(spec["selector"]["matchLabels"]):
            fail("%s: %s selects no pod" % (case, where))
        if kind == "HorizontalPodAutoscaler":
            target = spec["scaleTargetRef"]
            if (target["kind"], target["name"]) not in names:
                fail("%s: %s scales %s %s, not rendered" % (case, where, target["kind"],
                                                            target["name"]))
        if kind == "ServiceMonitor":
            expressions = spec["selector"]["matchExpressions"]
            monitored = [s for s in services if all(
                (s["metadata"].get("labels") or {}).get(e["key"]) in e["values"]
                for e in expressions)]
            port_names = {p["name"] for s in monitored for p in s["spec"]["ports"]}
            for endpoint in spec["endpoints"]:
                if endpoint["port"] not in port_names:
                    fail("%s: %s: endpoint port %s is not a port of the Services it selects" %
                         (case, where, endpoint["port"]))


# --- the matrix ---------------------------------------------------------------------------------

def find(objects, kind, suffix=""):
    return [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]


def container_of(objects, suffix):
    deployments = find(objects, "Deployment", suffix)
    if len(deployments) != 1:
        fail("want one Deployment *%s, got %d" % (suffix, len(deployments)))
        return {}
    return deployments[0]["spec"]["template"]["spec"]["containers"][0]


def expect(case, condition, message):
    if not condition:
        fail("%s: %s" % (case, message))


def kinds(objects):
    return sorted("%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objects)


def case_defaults(objects, case):
    args = container_of(objects, "-controller").get("args", [])
    expect(case, args[:1] == ["serve"] and "--tls-cert" in args and "--token-file" in args,
           "the controller does not serve with TLS and a token: %s" % args)
    expect(case, "--allow-target" not in args, "an allow-list by default: %s" % args)
    worker = find(objects, "Deployment", "-worker")[0]
    expect(case, worker["spec"].get("replicas") == 2, "worker replicas are not 2")
    worker_args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
    expect(case, "%s-llm-d-bench-controller.%s.svc:7070" % (RELEASE, NAMESPACE) in worker_args,
           "workers do not dial the controller Service: %s" % worker_args)
    expect(case, len(find(objects, "NetworkPolicy")) == 2, "want 2 NetworkPolicies by default")
    expect(case, not find(objects, "ServiceMonitor"), "a ServiceMonitor by default")
    expect(case, not find(objects, "HorizontalPodAutoscaler"), "an HPA by default")
    expect(case, not find(objects, "Deployment", "-sim"), "the sim by default")
    template = find(objects, "Deployment", "-controller")[0]["spec"]["template"]
    annotations = template["metadata"].get("annotations") or {}
    expect(case, "checksum/token" in annotations and "checksum/tls" in annotations,
           "no checksum annotations on the controller pod: %s" % annotations)
    expect(case, annotations.get("prometheus.io/scrape") == "true",
           "no scrape annotations on the controller pod")
    # The generated certificate names the Service as workers dial it, and localhost.
    tls = find(objects, "Secret", "-tls")[0]
    cert = base64.b64decode(tls["data"]["tls.crt"])
    with tempfile.NamedTemporaryFile() as pem:
        pem.write(cert)
        pem.flush()
        text = subprocess.run(["openssl", "x509", "-in", pem.name, "-noout", "-ext",
                               "subjectAltName"], capture_output=True, text=True).stdout
    for name in ("DNS:%s-llm-d-bench-controller.%s.svc" % (RELEASE, NAMESPACE),
                 "DNS:localhost", "IP Address:127.0.0.1"):
        expect(case, name in text, "the generated certificate lacks %s: %s" % (name, text))
    job = find(objects, "Job", "-test")
    expect(case, len(job) == 1, "no helm test Job")
    if job:
        expect(case, job[0]["metadata"]["annotations"].get("helm.sh/hook") == "test",
               "the test Job is not a test hook")
        pod = job[0]["spec"]["template"]["spec"]
        expect(case, [c["args"][0] for c in pod["containers"]] == ["status"],
               "without the sim the test only runs status")


def case_all_features(objects, case):
    controller = container_of(objects, "-controller")
    args = controller.get("args", [])
    for flag, value in (("--allow-target", "10.0.0.0/8"), ("--max-rate", "500"),
                        ("--max-concurrency", "4096"), ("--max-duration", "2h"),
                        ("--max-workers", "64"), ("--lease", "10s")):
        pairs = list(zip(args, args[1:]))
        expect(case, (flag, value) in pairs, "controller args lack %s %s: %s" % (flag, value, args))
    expect(case, ("--allow-target", "%s-llm-d-bench-sim.%s.svc" % (RELEASE, NAMESPACE)) in
           list(zip(args, args[1:])), "the sim is not on the allow-list")
    expect(case, find(objects, "ServiceMonitor"), "no ServiceMonitor")
    expect(case, find(objects, "HorizontalPodAutoscaler"), "no HPA")
    worker = find(objects, "Deployment", "-worker")[0]
    expect(case, "replicas" not in worker["spec"], "an HPA-managed Deployment sets replicas")
    expect(case, find(objects, "PersistentVolumeClaim"), "no results PVC")
    expect(case, find(objects, "Deployment", "-sim") and find(objects, "Service", "-sim"),
           "no sim Deployment and Service")
    expect(case, len(find(objects, "NetworkPolicy")) == 3, "want 3 NetworkPolicies with the sim")
    template = find(objects, "Deployment", "-controller")[0]["spec"]["template"]
    expect(case, "prometheus.io/scrape" not in (template["metadata"].get("annotations") or {}),
           "scrape annotations beside a ServiceMonitor")
    pod = worker["spec"]["template"]["spec"]
    expect(case, pod.get("nodeSelector") == {"node-role/bench": "true"}, "no worker nodeSelector")
    expect(case, pod.get("tolerations"), "no worker tolerations")
    expect(case, pod.get("topologySpreadConstraints"), "no topology spread")
    expect(case, pod.get("imagePullSecrets") == [{"name": "registry"}], "no imagePullSecrets")
    for obj in objects:
        expect(case, (obj["metadata"].get("labels") or {}).get("team") == "inference",
               "%s %s lacks commonLabels" % (obj["kind"], obj["metadata"]["name"]))
    job = find(objects, "Job", "-test")[0]["spec"]["template"]["spec"]
    expect(case, [c["args"][0] for c in job["initContainers"]] == ["status"] and
           [c["args"][0] for c in job["containers"]] == ["submit"],
           "with the sim the test runs status, then a submit")
    config = find(objects, "ConfigMap", "-test")
    expect(case, config, "no test config")
    if config:
        bench = yaml.load(config[0]["data"]["benchmark.yaml"], Loader=UniqueKeyLoader)
        expect(case, bench["benchmark"]["duration"] == 10, "the test run is not 10 s")
        expect(case, "%s-llm-d-bench-sim.%s.svc" % (RELEASE, NAMESPACE) in
               bench["target"]["endpoint"], "the test run does not target the sim")


def case_big_numbers(objects, case):
    controller = container_of(objects, "-controller")["args"]
    pairs = list(zip(controller, controller[1:]))
    for flag in ("--max-rate", "--max-concurrency"):
        expect(case, (flag, "1000000") in pairs, "%s is not rendered as 1000000: %s" %
               (flag, controller))
    sim = container_of(objects, "-sim")["args"]
    expect(case, ("--max-num-seqs", "1000000") in list(zip(sim, sim[1:])),
           "--max-num-seqs is not rendered as 1000000: %s" % sim)


def case_existing_secrets(objects, case):
    expect(case, not find(objects, "Secret"), "Secrets rendered despite existing ones")
    controller = find(objects, "Deployment", "-controller")[0]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in controller["volumes"]}
    expect(case, volumes["tls"]["secret"]["secretName"] == "my-tls", "tls volume not my-tls")
    expect(case, volumes["auth"]["secret"]["secretName"] == "my-token", "auth volume")
    expect(case, volumes["auth"]["secret"]["items"][0]["key"] == "bench-token",
           "existingSecretKey ignored")
    expect(case, volumes["results"]["persistentVolumeClaim"]["claimName"] == "results-claim",
           "existingClaim ignored")
    expect(case, not find(objects, "PersistentVolumeClaim"), "a PVC despite existingClaim")


def case_cert_manager(objects, case):
    certificates = find(objects, "Certificate")
    expect(case, len(certificates) == 1, "no Certificate")
    if certificates:
        spec = certificates[0]["spec"]
        expect(case, spec["issuerRef"]["name"] == "bench-ca", "issuerRef ignored")
        expect(case, "localhost" in spec["dnsNames"], "no localhost in the Certificate")
        expect(case, "%s-llm-d-bench-controller.%s.svc" % (RELEASE, NAMESPACE) in spec["dnsNames"],
               "the Certificate lacks the Service name workers dial")
    expect(case, not find(objects, "Secret", "-tls"), "a generated TLS Secret beside cert-manager")


def case_network_policy_off(objects, case):
    expect(case, not find(objects, "NetworkPolicy"), "NetworkPolicies rendered when disabled")


def case_hpa(objects, case):
    hpa = find(objects, "HorizontalPodAutoscaler")
    expect(case, len(hpa) == 1 and hpa[0]["spec"]["maxReplicas"] == 8, "HPA not as asked")
    expect(case, "replicas" not in find(objects, "Deployment", "-worker")[0]["spec"],
           "replicas set beside an HPA")


def case_sim(objects, case):
    sim = container_of(objects, "-sim")
    args = list(zip(sim["args"], sim["args"][1:]))
    expect(case, ("--itl", "12ms") in args and ("--max-num-seqs", "32") in args,
           "sim args not from values: %s" % sim["args"])
    expect(case, find(objects, "Service", "-sim"), "no sim Service")


def case_replicas(objects, case):
    worker = find(objects, "Deployment", "-worker")[0]
    expect(case, worker["spec"]["replicas"] == 7, "worker.replicas=7 not honoured")


def case_service_monitor(objects, case):
    expect(case, len(find(objects, "ServiceMonitor")) == 1, "no ServiceMonitor with the API")


values_dir = os.path.join(CHART, "ci")
all_features = os.path.join(values_dir, "all-features-values.yaml")
cases = [
    ("defaults", [], case_defaults),
    ("all features", ["-f", all_features, "--api-versions", "monitoring.coreos.com/v1"],
     case_all_features),
    ("existing secrets and claim", ["-f", os.path.join(values_dir, "existing-secrets-values.yaml")],
     case_existing_secrets),
    ("cert-manager", ["--set", "tls.source=certManager",
                      "--set", "tls.certManager.issuerRef.name=bench-ca",
                      "--api-versions", "cert-manager.io/v1"], case_cert_manager),
    ("NetworkPolicy off", ["--set", "networkPolicy.enabled=false"], case_network_policy_off),
    ("HPA on", ["--set", "worker.autoscaling.enabled=true",
                "--set", "worker.autoscaling.maxReplicas=8"], case_hpa),
    ("sim on", ["--set", "sim.enabled=true", "--set", "sim.itl=12ms",
                "--set", "sim.maxNumSeqs=32"], case_sim),
    ("ServiceMonitor with the API", ["--set", "metrics.serviceMonitor.enabled=true",
                                     "--api-versions", "monitoring.coreos.com/v1"],
     case_service_monitor),
    ("replicas", ["--set", "worker.replicas=7"], case_replicas),
    ("numbers from a values file", ["-f", os.path.join(values_dir, "big-numbers-values.yaml")],
     case_big_numbers),
]
outside_secrets = ("my-tls", "my-token", "results-claim")
for name, args, check in cases:
    objects = render(name, args)
    before = len(failures)
    check_policy(name, objects, outside_secrets)
    if objects:
        check(objects, name)
    print("%s %s: %d objects (%s)" % ("ok:  " if len(failures) == before else "FAIL:", name,
                                       len(objects), ", ".join(sorted({o["kind"] for o in
                                                                       objects}))))

# --- NOTES.txt (helm install --dry-run=client renders it offline) -------------------------------
def notes(*args):
    result = helm("install", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=client", *args)
    if result.returncode != 0:
        fail("helm install --dry-run %s: %s" % (" ".join(args), result.stderr.strip()))
        return ""
    return result.stdout[result.stdout.find("NOTES:"):]


# Helm 3 needs a cluster even for a client-side dry run: the notes are checked with Helm 4.
if HELM_VERSION.startswith("v3"):
    print("skip: NOTES.txt (helm %s renders it only against a cluster)" % HELM_VERSION)
    notes = None
text = notes() if notes else "DENIES EVERY RUN\nkubectl -n %s scale deployment/" % NAMESPACE
expect("NOTES", "DENIES EVERY RUN" in text, "no warning for an empty allow-list")
expect("NOTES", "kubectl -n %s scale deployment/" % NAMESPACE in text, "no scale command")
if notes:
    text = notes("--set", "controller.allowTargets={0.0.0.0/0}")
    expect("NOTES", "ANY address" in text and "DENIES" not in text, "no warning for 0.0.0.0/0")
    text = notes("--set", "controller.allowTargets={10.0.0.0/8}", "--set",
                 "worker.autoscaling.enabled=true", "--set", "auth.existingSecret=s",
                 "--set", "auth.existingSecretKey=tok.txt")
    expect("NOTES", "WARNING" not in text, "a warning with a narrow allow-list")
    expect("NOTES", "HorizontalPodAutoscaler keeps 2-10" in text and "scale deployment" not in text,
           "the notes tell to scale by hand beside an HPA")
    expect("NOTES", "{.data.tok\\.txt}" in text, "the token key's dot is not escaped for jsonpath")
    print("%s NOTES.txt: allow-list warnings, HPA and jsonpath variants" %
          ("ok:  " if not [f for f in failures if f.startswith("NOTES")] else "FAIL:"))

# --- refusals: a typo, a wrong type, a refused value, a feature without its API -----------------
refusals = [
    (["--set", "worker.replicass=3"], "replicass"),
    (["--set", "controller.grpcPortt=1"], "grpcPortt"),
    (["--set", "worker.replicas=three"], "/worker/replicas"),
    (["--set", "controller.metricsPort=70000"], "/controller/metricsPort"),
    (["--set", "image.tag=latest"], "/image/tag"),
    (["--set", "tls.source=none"], "/tls/source"),
    (["--set", "controller.lease=soon"], "/controller/lease"),
    (["--set", "metrics.serviceMonitor.enabled=true"], "monitoring.coreos.com/v1"),
    (["--set", "tls.source=certManager", "--set", "tls.certManager.issuerRef.name=x"],
     "cert-manager.io/v1"),
    (["--set", "tls.source=secret"], "tls.existingSecret is required"),
    (["--set", "worker.tolerations[0].efect=NoSchedule"], "efect"),
    (["--set", "networkPolicy.controllerFrom[0].podSelectr.x=y"], "podSelectr"),
    (["--set", "worker.autoscaling.enabled=true", "--set", "worker.autoscaling.minReplicas=5",
      "--set", "worker.autoscaling.maxReplicas=2"], "minReplicas 5 is above maxReplicas 2"),
]
for args, needle in refusals:
    result = helm("template", RELEASE, CHART, *args)
    # Helm 4 names a value /worker/replicas, Helm 3 worker.replicas.
    needles = {needle, needle.lstrip("/").replace("/", ".")}
    if result.returncode == 0 or not any(n in result.stderr for n in needles):
        fail("helm template %s: want a refusal naming %r, got exit %d: %s" %
             (" ".join(args), needle, result.returncode, result.stderr.strip()[:300]))
    else:
        print("ok:   refused %-60s %s" % (" ".join(args),
                                          result.stderr.strip().splitlines()[-1][:90]))

# --- lint on defaults and every example values file ---------------------------------------------
lint_sets = [[]] + [["-f", os.path.join(values_dir, f)] for f in sorted(os.listdir(values_dir))]
for args in lint_sets:
    result = helm("lint", "--strict", CHART, *args)
    label = args[1].rsplit("/", 1)[-1] if args else "defaults"
    if result.returncode != 0:
        fail("helm lint --strict %s: %s" % (label, (result.stdout + result.stderr).strip()))
    else:
        print("ok:   helm lint --strict (%s)" % label)
result = helm("lint", "--strict", CHART, "--set", "worker.replicass=3")
if result.returncode == 0 or "replicass" not in result.stdout + result.stderr:
    fail("helm lint accepted worker.replicass=3")
else:
    print("ok:   helm lint --strict refuses worker.replicass=3")

# --- the schema: additionalProperties false wherever keys are the chart's own -------------------
import json  # noqa: E402

schema = json.load(open(os.path.join(CHART, "values.schema.json")))
FREE_FORM = {"global", "affinity/nodeAffinity", "affinity/podAffinity", "affinity/podAntiAffinity"}


def walk(node, path):
    if node.get("type") == "object" and "properties" in node:
        if node.get("additionalProperties") is not False and path not in FREE_FORM:
            fail("values.schema.json: %s allows unknown keys" % (path or "/"))
        for key, child in node["properties"].items():
            walk(child, "%s/%s" % (path, key) if path else key)
    items = node.get("items")
    if isinstance(items, dict):
        if items.get("type") == "object" and "properties" not in items:
            fail("values.schema.json: %s[] items allow any keys" % path)
        walk(items, path + "[]")


walk(schema, "")
values = yaml.load(open(os.path.join(CHART, "values.yaml")), Loader=UniqueKeyLoader)


def covered(values_node, schema_node, path):
    for key, value in values_node.items():
        child = (schema_node.get("properties") or {}).get(key)
        if child is None:
            fail("values.yaml: %s%s is not in the schema" % (path, key))
        elif isinstance(value, dict) and "properties" in child:
            covered(value, child, "%s%s." % (path, key))


covered(values, schema, "")

# --- deploy/k8s/benchmark-job.yaml: the same rules --------------------------------------------
job_path = os.path.join(SOURCE, "deploy", "k8s", "benchmark-job.yaml")
job_objects = load_all(open(job_path).read(), "benchmark-job.yaml")
before = len(failures)
check_policy("benchmark-job.yaml", job_objects)
jobs = find(job_objects, "Job")
if len(jobs) != 1:
    fail("benchmark-job.yaml: want one Job")
else:
    container = jobs[0]["spec"]["template"]["spec"]["containers"][0]
    if container["command"] != ["bench-controller"] or container["args"][0] != "run":
        fail("benchmark-job.yaml: the Job does not run bench-controller run")
print("%s benchmark-job.yaml: %s" % ("ok:  " if len(failures) == before else "FAIL:",
                                     ", ".join(kinds(job_objects))))
reader_path = os.path.join(SOURCE, "deploy", "k8s", "results-reader.yaml")
reader = load_all(open(reader_path).read(), "results-reader.yaml")
before = len(failures)
# A bare Pod: the same container and pod rules, checked through a Job-shaped wrapper.
check_policy("results-reader.yaml",
             [{"apiVersion": "batch/v1", "kind": "Job", "metadata": o["metadata"],
               "spec": {"template": {"metadata": {"labels": o["metadata"]["labels"]},
                                     "spec": o["spec"]}}} for o in reader if o["kind"] == "Pod"] +
             [o for o in job_objects if o["kind"] == "PersistentVolumeClaim"])
print("%s results-reader.yaml: %s" % ("ok:  " if len(failures) == before else "FAIL:",
                                      ", ".join(kinds(reader))))

if failures:
    print("chart test: %d failure(s)" % len(failures))
    sys.exit(1)
print("chart test: passed (%d render cases, %d refusals, %d lint runs)" %
      (len(cases), len(refusals), len(lint_sets) + 1))
