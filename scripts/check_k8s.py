"""Structural check of examples/k8s/calibrate-job.yaml (make k8s-check): two batch/v1 Jobs; the
calibration Job is Indexed with as many completions as the shards its command names and writes
one .eamstats per completion index to the volume the compile Job merges from."""
import re
import sys

import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
failures = []
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)


check(len(docs) == 2, f"two documents, found {len(docs)}")
for d in docs:
    check(d.get("apiVersion") == "batch/v1" and d.get("kind") == "Job", f"{d.get('metadata')}: a batch/v1 Job")
    spec = d["spec"]["template"]["spec"]
    check(spec.get("restartPolicy") in ("Never", "OnFailure"), "restartPolicy Never or OnFailure")
    claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in spec.get("volumes", [])}
    for c in spec["containers"]:
        check(c.get("image"), f"{c['name']}: an image")
        for m in c.get("volumeMounts", []):
            check(m["name"] in claims, f"{c['name']}: mount {m['name']} has a volume")
calibrate, compile_ = docs
cs = calibrate["spec"]
check(cs.get("completionMode") == "Indexed", "calibration Job is Indexed")
command = " ".join(calibrate["spec"]["template"]["spec"]["containers"][0]["args"])
shard = re.search(r"--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/(\d+)", command)
check(shard is not None, "calibrate uses --shard $((JOB_COMPLETION_INDEX + 1))/N")
if shard:
    check(int(shard.group(1)) == cs.get("completions"), f"--shard N = completions ({cs.get('completions')})")
check("eamc calibrate" in command and "$JOB_COMPLETION_INDEX.eamstats" in command, "one .eamstats per index")
merge = " ".join(compile_["spec"]["template"]["spec"]["containers"][0]["args"])
check("eamc compile" in merge and "--stats" in merge and ".eamstats" in merge, "the compile Job merges the shards")
out_dir = re.search(r"-o (\S+)/stats\.", command)
check(out_dir is not None and out_dir.group(1) + "/" in merge, "the compile reads the folder the shards are written to")
calib = re.search(r"--calib (\S+)", command)
check(calib is not None and f"--calib {calib.group(1)}" in merge,
      "the compile gets the calibration folder (weighted entropy measures the output sensitivity on it)")
for f in failures:
    print("FAIL:", f)
print(f"k8s check: {checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
