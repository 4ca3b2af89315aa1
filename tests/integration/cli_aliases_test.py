#!/usr/bin/env python3
"""The alias table of docs/cli.md, row by row: `validate` with a row's flags and with the `--set`
overrides it documents must both accept the config and print the same resolved config and plan.
Then the did-you-mean of misspelled flags (exit 2, nothing sent), and a config made of aliases
alone. Usage: cli_aliases_test.py BUILD_DIR SOURCE_DIR"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

build, source = sys.argv[1], sys.argv[2]
controller = os.path.join(build, "controller", "bench-controller")
failures = []


def validate(*args):
    # In the scratch directory, where the table's sharegpt.json is.
    run = subprocess.run([controller, "validate", *args], capture_output=True, text=True,
                         timeout=30, cwd=scratch)
    return run.returncode, run.stdout, run.stderr


def plan(stdout):
    # Everything but the first line, which names the source.
    return "\n".join(stdout.splitlines()[1:])


with tempfile.TemporaryDirectory() as work:
    scratch = work
    shutil.copy(os.path.join(source, "worker", "engine", "testdata", "prompts",
                             "sharegpt_small.json"), os.path.join(work, "sharegpt.json"))
    # The table's tokenizer file (validate parses it): Llama 3's, from the npm peers.
    llama3 = os.path.join(source, "tests", "node", "node_modules", "@lenml", "tokenizer-llama3",
                          "models", "tokenizer.json")
    have_tokenizer = os.path.exists(llama3)
    if have_tokenizer:
        shutil.copy(llama3, os.path.join(work, "tokenizer.json"))
    base = os.path.join(work, "base.yaml")
    with open(base, "w") as f:
        f.write("benchmark: {name: aliases}\n"
                "target: {endpoint: 'http://127.0.0.1:9/v1/chat/completions', model: m}\n"
                "slo: {ttft: {p99: 1s}}\n")
    doc = open(os.path.join(source, "docs", "cli.md")).read()
    table = doc.split("## Flags from vLLM, GuideLLM and AIPerf", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| `([^`]+)` \|$", table, re.M)
    if len(rows) < 25:
        failures.append("docs/cli.md: only %d alias rows found" % len(rows))
    skipped = 0
    for alias, origin, same in rows:
        if "--tokenizer" in alias and not have_tokenizer:
            skipped += 1  # no tokenizer file to name without the npm peers (scripts/setup.sh)
            continue
        code_a, out_a, err_a = validate("--config", base, *shlex.split(alias))
        code_s, out_s, err_s = validate("--config", base, *shlex.split(same))
        if code_a != 0 or code_s != 0:
            failures.append("%s: exit %d (%s) / %s: exit %d (%s)" % (
                alias, code_a, err_a.strip()[:300], same, code_s, err_s.strip()[:300]))
        elif plan(out_a) != plan(out_s):
            diff = [(a, b) for a, b in zip(plan(out_a).splitlines(), plan(out_s).splitlines())
                    if a != b]
            failures.append("%s differs from %s: %s" % (alias, same, diff[:3]))
    print("%d aliases from docs/cli.md: each gives the same config and plan as its --set form%s"
          % (len(rows) - skipped, " (%d skipped: no tokenizer file)" % skipped if skipped else ""))

    # Misspelled flags: exit 2 with the nearest flag, before anything is sent.
    for command, wrong, want in [
            (["run"], "--request-rat", "--request-rate"),
            (["run"], "--max-concurency", "--max-concurrency"),
            (["validate"], "--num-promts", "--num-prompts"),
            (["submit"], "--detatch", "--detach"),
            (["run"], "--endpont=http://x", "--endpoint")]:
        run = subprocess.run([controller, *command, wrong, "5"], capture_output=True, text=True,
                             timeout=30)
        first = run.stderr.splitlines()[0] if run.stderr else ""
        expected = "unknown flag %s (did you mean %s?)" % (wrong.split("=")[0], want)
        if run.returncode != 2 or expected not in first:
            failures.append("%s %s: exit %d, %r; want exit 2 and %r" % (
                command[0], wrong, run.returncode, first, expected))
        else:
            print("%s %s 5: exit 2, %s" % (command[0], wrong, first))

    # A config made of flags alone, as a vLLM user would type it.
    code, out, err = validate("--base-url", "http://127.0.0.1:8000", "--model", "m",
                              "--request-rate", "4", "--num-prompts", "40",
                              "--dataset-name", "random", "--random-input-len", "64")
    if code != 0 or "endpoint: \"http://127.0.0.1:8000/v1/completions\"" not in out \
            or "type: poisson" not in out or "duration: 10s" not in out \
            or "maxRequests: 40" not in out:
        failures.append("vLLM-style flags alone: exit %d %s %s" % (code, err[:300], out[:600]))
    else:
        print("vLLM-style flags alone: a Poisson run of 40 requests at 4 req/s over 10s against "
              "http://127.0.0.1:8000/v1/completions")
    # What cannot make a config is refused with the reason.
    for args, want in [
            (["--rate", "inf"], "bound it with --concurrency N"),
            (["--endpoint", "/v1/completions", "--rate", "1"], "is a path: give the server too"),
            (["--endpoint", "http://h:1/v1/chat/completions", "--api", "completions", "--rate",
              "1"], "asks for the other"),
            (["--data", "hf:dataset", "--rate", "1"], "only GuideLLM's synthetic spec"),
            (["--dataset-name", "sonnet", "--rate", "1"], "random and sharegpt are supported"),
            (["--find-capacity", "--rate", "5"], "--find-capacity searches for the rate itself"),
            (["--rate-type", "synchronous", "--rate", "5"], "has no meaning with --rate-type"),
            (["--rate-type", "concurrent", "--rate", "4", "--concurrency", "8"],
             "--concurrency has no meaning with --rate-type concurrent"),
            (["--random-range-ratio", "0.2", "--rate", "1"], "give one")]:
        code, out, err = validate("--config", base, *args)
        if code != 2 or want not in err:
            failures.append("%s: exit %d, %r; want exit 2 and %r" % (args, code, err[:300], want))

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("cli aliases test: ok")
