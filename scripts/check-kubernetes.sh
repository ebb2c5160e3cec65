#!/usr/bin/env bash
# Checks deploy/kubernetes/ and the Dockerfile offline, with no cluster and
# no Docker engine:
#  1. every manifest validates, --strict (unknown fields are errors),
#     against the schemas of a pinned Kubernetes version, with a pinned
#     kubernetes-validate (PyPI; it ships the schemas) in a venv cached
#     under target/ (or $CARGO_TARGET_DIR);
#  2. negative controls: copies of the drivers' Job with a misspelt field,
#     a value of the wrong type and an unknown kind must each FAIL, or the
#     check itself is broken and this script fails;
#  3. the manifests agree with themselves: completions == parallelism ==
#     TIKV_BENCH_SHARDS, the merge Job reads the run id the drivers get and
#     merges the directory they write, every ConfigMap key, claim and
#     $(VAR) they use exists, one image everywhere, requests == limits and
#     the non-root security settings on every container;
#  4. the workload in the ConfigMap passes `tikv-bench check`, and every
#     flag and TIKV_BENCH_* variable the manifests give `run`, `merge` and
#     `report` appears in that binary's --help;
#  5. every source the Dockerfile COPYs from the build context exists and
#     is not excluded by .dockerignore.
# The image itself is not built here.
#
# Usage: scripts/check-kubernetes.sh [TIKV_BENCH_BINARY]
#   (default: target/release/tikv-bench, under $CARGO_TARGET_DIR when set;
#   built or brought up to date first)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Kubernetes version validated against (Indexed Jobs are GA since 1.24;
# namespaceSelector in pod affinity since 1.24).
K8S_VERSION=1.33.0
# kubernetes-validate and everything it installs, pinned.
VALIDATOR=kubernetes-validate==1.37.0
CONSTRAINTS="attrs==26.1.0
importlib_resources==7.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
packaging==26.4
PyYAML==6.0.4
referencing==0.37.0
rpds-py==2026.9.1
typing_extensions==4.16.0"

manifests=(deploy/kubernetes/*.yaml)
target_dir=${CARGO_TARGET_DIR:-target}
venv=$target_dir/check-kubernetes/venv-${VALIDATOR#*==}
if [[ ! -x $venv/bin/kubernetes-validate ]]; then
    echo "check-kubernetes: installing $VALIDATOR into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    printf '%s\n' "$CONSTRAINTS" >"$venv/constraints.txt"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        -c "$venv/constraints.txt" "$VALIDATOR"
fi
py="$venv/bin/python"

if [[ $# -ge 1 ]]; then
    bin=$1
else
    bin=$target_dir/release/tikv-bench
    cargo build --release --locked --quiet --bin tikv-bench
fi
[[ -x $bin ]] || { echo "check-kubernetes: no binary at $bin" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints the validator's report on FILES; succeeds only when every YAML
# document of every file is reported as passed and nothing else is said
# (the validator warns, and exits 0, for a kind it has no schema for).
validate() {
    local out docs passed rc
    out=$("$venv/bin/kubernetes-validate" -k "$K8S_VERSION" --strict "$@" 2>&1) && rc=0 || rc=$?
    printf '%s\n' "$out"
    docs=$("$py" -c 'import sys, yaml
print(sum(1 for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d))' "$@")
    passed=$(grep -c '^INFO .* passed for resource ' <<<"$out" || true)
    [[ $rc -eq 0 && $passed -eq $docs ]] && ! grep -qv '^INFO .* passed for resource ' <<<"$out"
}

echo "== 1. the manifests against Kubernetes $K8S_VERSION (--strict)"
validate "${manifests[@]}" || { echo "check-kubernetes: a manifest does not validate" >&2; exit 1; }

echo "== 2. negative controls (each must fail)"
"$py" - deploy/kubernetes/drivers-job.yaml "$work" <<'PY'
import copy, sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
def write(name, change):
    bad = copy.deepcopy(job)
    change(bad)
    with open(f"{sys.argv[2]}/{name}.yaml", "w") as f:
        yaml.safe_dump(bad, f)
write("misspelt-field", lambda j: j["spec"].update(completionMod=j["spec"].pop("completionMode")))
write("wrong-type", lambda j: j["spec"].update(parallelism="four"))
write("unknown-kind", lambda j: j.update(kind="Jb"))
PY
for bad in "$work"/misspelt-field.yaml "$work"/wrong-type.yaml "$work"/unknown-kind.yaml; do
    if validate "$bad"; then
        echo "check-kubernetes: negative control $(basename "$bad") passed validation" >&2
        exit 1
    fi
done
echo "(all three failed, as they must)"

echo "== 3-5. consistency, the workload, the flags, the Dockerfile"
"$py" - "$bin" "$work" "${manifests[@]}" <<'PY'
import re, subprocess, sys, yaml

binary, work, files = sys.argv[1], sys.argv[2], sys.argv[3:]
problems = []
def need(ok, what):
    if not ok:
        problems.append(what)
    return ok

docs = [d for f in files for d in yaml.safe_load_all(open(f)) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
configmaps = by_kind.get("ConfigMap", {})
claims = by_kind.get("PersistentVolumeClaim", {})
jobs = by_kind.get("Job", {})

def pod_spec(d):
    return d["spec"]["template"]["spec"] if d["kind"] == "Job" else d["spec"]

def containers(d):
    spec = pod_spec(d)
    return spec.get("initContainers", []) + spec["containers"]

def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}

# Every reference resolves, every $(VAR) is defined, one image, security.
images = set()
for d in docs:
    if d["kind"] not in ("Job", "Pod"):
        continue
    where = f'{d["kind"]} {d["metadata"]["name"]}'
    spec = pod_spec(d)
    need(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
    for v in spec.get("volumes", []):
        if "persistentVolumeClaim" in v:
            need(v["persistentVolumeClaim"]["claimName"] in claims,
                 f'{where}: no PersistentVolumeClaim {v["persistentVolumeClaim"]["claimName"]}')
        if "configMap" in v:
            cm = configmaps.get(v["configMap"]["name"], {}).get("data", {})
            for item in v["configMap"].get("items", []):
                need(item["key"] in cm, f'{where}: the ConfigMap has no key {item["key"]}')
    for c in containers(d):
        at = f'{where}, container {c["name"]}'
        images.add(c["image"])
        sc = c.get("securityContext", {})
        need(sc.get("allowPrivilegeEscalation") is False, f"{at}: allowPrivilegeEscalation")
        need(sc.get("readOnlyRootFilesystem") is True, f"{at}: readOnlyRootFilesystem")
        need(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{at}: drop ALL")
        res = c.get("resources", {})
        need(res.get("requests") and res.get("requests") == res.get("limits"),
             f"{at}: resources requests must equal limits")
        env = env_of(c)
        for e in env.values():
            ref = e.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                need(ref["key"] in configmaps.get(ref["name"], {}).get("data", {}),
                     f'{at}: no key {ref["key"]} in ConfigMap {ref["name"]}')
        for word in c.get("command", []) + c.get("args", []):
            for var in re.findall(r"\$\((\w+)\)", word):
                need(var in env, f"{at}: $({var}) is not in its env (Kubernetes would pass it literally)")
need(len(images) == 1, f"one image in every manifest, found {sorted(images)}")

# The drivers: N three times, Indexed, no retries.
drivers = jobs["tikv-bench-drivers"]
spec = drivers["spec"]
driver = pod_spec(drivers)["containers"][0]
denv = env_of(driver)
shards = int(denv["TIKV_BENCH_SHARDS"]["value"])
need(spec["completionMode"] == "Indexed", "drivers: completionMode Indexed")
need(spec["completions"] == spec["parallelism"] == shards,
     f'drivers: completions {spec["completions"]}, parallelism {spec["parallelism"]} '
     f"and TIKV_BENCH_SHARDS {shards} must agree")
need(spec["backoffLimit"] == 0, "drivers: backoffLimit 0")
need(pod_spec(drivers)["restartPolicy"] == "Never", "drivers: restartPolicy Never")
workload_arg = driver["args"][1]
mounted = set()
for m in driver["volumeMounts"]:
    vol = next(v for v in pod_spec(drivers)["volumes"] if v["name"] == m["name"])
    for item in vol.get("configMap", {}).get("items", []):
        mounted.add((f'{m["mountPath"]}/{item["path"]}', vol["configMap"]["name"], item["key"]))
source = [(cm, key) for path, cm, key in mounted if path == workload_arg]
need(source, f"drivers: the workload {workload_arg} is not a mounted ConfigMap item")

# The merge reads the run id the drivers get and the directory they write.
run_id_source = denv["TIKV_BENCH_RUN_ID"]["valueFrom"]["configMapKeyRef"]
results_dir = denv["TIKV_BENCH_RESULTS_DIR"]["value"]
merge_job = jobs["tikv-bench-merge"]
steps = {c["name"]: c for c in containers(merge_job)}
for c in steps.values():
    if any("$(RUN_ID)" in w for w in c.get("command", []) + c.get("args", [])):
        need(env_of(c)["RUN_ID"]["valueFrom"]["configMapKeyRef"] == run_id_source,
             f'merge, container {c["name"]}: reads the run id from elsewhere than the drivers')
margs = steps["merge"]["args"]
need(f"{results_dir}/$(RUN_ID)" in margs,
     f"merge: does not merge {results_dir}/$(RUN_ID), where the drivers write")
need("--report" in margs, "merge: does not render the merged report (--report)")

# The workload passes `tikv-bench check`.
if source:
    cm, key = source[0]
    path = f"{work}/{key}"
    with open(path, "w") as f:
        f.write(configmaps[cm]["data"][key])
    out = subprocess.run([binary, "check", path], capture_output=True, text=True)
    print(out.stdout + out.stderr, end="")
    need(out.returncode == 0, f"the workload in ConfigMap {cm} fails `tikv-bench check`")

# Every flag and variable given to run/merge/report is in the binary's --help.
helps = {}
def help_of(sub):
    if sub not in helps:
        helps[sub] = subprocess.run([binary, sub, "--help"], capture_output=True,
                                    text=True, check=True).stdout
    return helps[sub]
checked = 0
for d in docs:
    for c in containers(d) if d["kind"] in ("Job", "Pod") else []:
        args = c.get("args", [])
        if "command" in c or not args:
            continue
        sub = args[0]
        for word in args[1:]:
            if word.startswith("-"):
                flag = word.split("=", 1)[0]
                checked += 1
                need(re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_of(sub)),
                     f"`{sub} --help` has no {flag}")
        for name in env_of(c):
            if name.startswith("TIKV_BENCH_"):
                checked += 1
                need(f"env: {name}=" in help_of(sub), f"`{sub} --help` reads no {name}")
need("JOB_COMPLETION_INDEX" in help_of("run"), "`run --help` does not mention JOB_COMPLETION_INDEX")
print(f"{checked} flags and variables looked up in the binary's --help")

# Every COPY source of the Dockerfile is in the build context.
ignored = [l.strip().rstrip("/") for l in open(".dockerignore")
           if l.strip() and not l.startswith("#")]
copies = 0
for line in open("Dockerfile"):
    words = line.split()
    if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
        continue
    for src in words[1:-1]:
        copies += 1
        src = src.rstrip("/")
        need(subprocess.run(["test", "-e", src]).returncode == 0, f"Dockerfile: COPY {src}: no such path")
        need(not any(src == i or src.startswith(i + "/") for i in ignored),
             f"Dockerfile: COPY {src}: excluded by .dockerignore")
print(f"{copies} Dockerfile COPY sources present in the build context")

for p in problems:
    print(f"check-kubernetes: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "check-kubernetes: ok"
