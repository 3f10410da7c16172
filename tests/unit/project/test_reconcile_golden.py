"""reconcile / plan_down against golden plan texts (tests/unit/project/golden/*.txt).

Each scenario is a stack, a snapshot of what exists and the options of one command;
its plan, rendered as `stackup up --dry-run` prints it, must equal the golden file.
Regenerate after an intended change with STACKUP_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path

import pytest

from stackup.project.observed import Snapshot
from stackup.project.reconcile import (
    DownOptions,
    RunOptions,
    UpOptions,
    plan_down,
    plan_run,
    reconcile,
)

from tests.unit.project import _project_stacks as st

GOLDEN = Path(__file__).parent / "golden"


def up(desired, snapshot, **options):
    return lambda: reconcile(desired, snapshot, UpOptions(**options))


def run(desired, snapshot, service, **options):
    return lambda: plan_run(desired, snapshot, service, RunOptions(token="0a1b2c3d4e5f", **options))


def down(snapshot, desired=None, **options):
    return lambda: plan_down(snapshot, DownOptions(**options), desired)


def _web_changed():
    return st.changed(st.webdemo(), "web", command=["httpd", "-f", "-p", "8081", "-h", "/www"])


def _db_changed():
    return st.changed(st.chain(), "db", environment={"POSTGRES_DB": "shop"})


def _chain_exited():
    return st.deployed(st.chain(), status="exited")


def _duplicate_after_crash():
    d = st.webdemo()
    old_config = copy.deepcopy(d["services"]["web"])
    old_config["command"] = ["old"]
    stale = st.container(d, "web", 1, status="exited", config=old_config,
                         name="0123456789ab_webdemo-web-1")
    return st.with_containers(st.deployed(d), stale)


def _interrupted_recreate():
    """A recreate of web stopped after its rename: only the old container, aside."""
    d = st.webdemo()
    old_config = copy.deepcopy(d["services"]["web"])
    old_config["command"] = ["old"]
    aside = st.container(d, "web", 1, status="exited", config=old_config, name="0123456789ab_webdemo-web-1")
    return st.with_containers(st.deployed(d), aside, drop=("webdemo-web-1",))


def _orphans():
    d = st.webdemo()
    other = st.container(d, "backend", 1, name="webdemo-cache-1")
    labels = dict(other.labels, **{"io.stackup.service": "cache"})
    cache = type(other)(id="cache1", name="webdemo-cache-1", status="running", labels=labels)
    oneoff = st.container(d, "web", 1, status="exited", oneoff=True, name="webdemo-web-run-0a1b2c3d4e5f")
    running_oneoff = st.container(d, "web", 1, status="running", oneoff=True, name="webdemo-web-run-ffffffffffff")
    return st.with_containers(st.deployed(d), cache, oneoff, running_oneoff)


def _namespace_stack():
    return {
        "name": "ns",
        "networks": {"default": {"name": "ns_default", "ipam": {}}},
        "services": {
            "vpn": {"command": None, "entrypoint": None, "image": st.BUSYBOX, "networks": {"default": None}},
            "app": {"command": None, "entrypoint": None, "image": st.BUSYBOX, "network_mode": "service:vpn",
                    "depends_on": {"vpn": {"condition": "service_started", "required": True, "restart": True}}},
        },
    }


def _build_stack():
    return {
        "name": "built",
        "services": {
            "app": {"build": {"context": "/src/app", "dockerfile": "Dockerfile"}, "command": None,
                    "entrypoint": None, "network_mode": "none"},
            "side": {"command": None, "entrypoint": None, "image": st.NGINX, "network_mode": "none",
                     "pull_policy": "always"},
            "side2": {"command": None, "entrypoint": None, "image": st.NGINX, "network_mode": "host"},
        },
    }


def _image_and_build_stack():
    """Builds of every kind: `app` builds only; `api` has `image:` and `build:`; `web`
    builds FROM base's image (a `service:` context); `tool` builds by pull_policy."""
    b = {"context": "/src/app", "dockerfile": "Dockerfile"}
    common = {"command": None, "entrypoint": None, "network_mode": "none"}
    return {
        "name": "mix",
        "services": {
            "app": {"build": dict(b), **common},
            "api": {"build": dict(b, context="/src/api"), "image": "registry.example/api:1", **common},
            "base": {"build": dict(b, context="/src/base"), **common},
            "web": {"build": dict(b, context="/src/web", additional_contexts={"base": "service:base"}),
                    "depends_on": {"api": {"condition": "service_started"}}, **common},
            "tool": {"build": dict(b, context="/src/tool"), "image": "tool:1", "pull_policy": "build", **common},
        },
    }


def _mix_present(*services):
    refs = {"app": "mix-app", "api": "registry.example/api:1", "base": "mix-base", "web": "mix-web",
            "tool": "tool:1"}
    return Snapshot("mix", images={refs[s]: "sha256:" + str(i) * 64 for i, s in enumerate(services, 1)})


def _external_stack():
    d = st.webdemo()
    d["networks"]["outside"] = {"name": "outside", "ipam": {}, "external": True}
    d["services"]["web"]["networks"] = {"default": None, "outside": None}
    d["volumes"]["site"] = {"name": "site", "external": True}
    return d


def _external_snapshot():
    from stackup.project.observed import ObservedNetwork, ObservedVolume
    return Snapshot("webdemo", networks=(ObservedNetwork("n1", "outside"),),
                    volumes=(ObservedVolume("site"),), images=st.IMAGE_IDS)


def _anon_changed(**attrs):
    return st.changed(st.anonvol(), "db", **attrs)


SCENARIOS = {
    # up
    "up-fresh-webdemo": up(st.webdemo(), st.empty(st.webdemo())),
    "up-fresh-chain": up(st.chain(), st.empty(st.chain())),
    "up-no-change-webdemo": up(st.webdemo(), st.deployed(st.webdemo())),
    "up-no-change-chain": up(st.chain(), st.deployed(st.chain())),
    "up-config-changed": up(_web_changed(), st.deployed(st.webdemo())),
    "up-config-changed-restart-dependent": up(_db_changed(), st.deployed(st.chain())),
    "up-config-changed-no-start": up(_web_changed(), st.deployed(st.webdemo()), no_start=True),
    "up-image-changed": up(st.webdemo(), st.deployed(st.webdemo(), images={st.BUSYBOX: "sha256:" + "d" * 64})),
    "up-scale-up": up(st.chain(), st.deployed(st.chain()), scale={"worker": 4}),
    "up-scale-down": up(st.chain(), st.deployed(st.chain()), scale={"worker": 1}),
    "up-scale-zero": up(st.chain(), st.deployed(st.chain()), scale={"front": 0}),
    "up-scale-down-obsolete-first": up(
        st.chain(), st.with_containers(st.deployed(st.chain()),
                                       st.container(st.chain(), "worker", 1, config={"image": st.NGINX}),
                                       drop=("shop-worker-1",)), scale={"worker": 1}),
    "up-orphans-warning": up(st.webdemo(), _orphans()),
    "up-remove-orphans": up(st.webdemo(), _orphans(), remove_orphans=True),
    "up-no-deps-fresh": up(st.webdemo(), st.empty(st.webdemo()), services=("web",), no_deps=True),
    "up-selection-fresh": up(st.chain(), st.empty(st.chain()), services=("api",)),
    "up-selection-changed-dependency": up(_db_changed(), st.deployed(st.chain()), services=("front",)),
    "up-force-recreate": up(st.webdemo(), st.deployed(st.webdemo()), force_recreate=True),
    "up-force-recreate-selected": up(st.webdemo(), st.deployed(st.webdemo()), services=("web",),
                                     force_recreate=True),
    "up-force-recreate-deps": up(st.webdemo(), st.deployed(st.webdemo()), services=("web",),
                                 force_recreate=True, always_recreate_deps=True),
    "up-no-recreate": up(_web_changed(), st.deployed(st.webdemo()), no_recreate=True),
    "up-stopped-chain": up(st.chain(), _chain_exited()),
    "up-paused": up(st.webdemo(), st.deployed(st.webdemo(), status="paused")),
    "up-no-start-fresh": up(st.chain(), st.empty(st.chain()), no_start=True),
    "up-pull-missing": up(st.webdemo(), st.empty(st.webdemo(), images={})),
    "up-pull-always": up(st.webdemo(), st.deployed(st.webdemo()), pull="always"),
    "up-images-resolved": up(st.webdemo(), st.empty(st.webdemo(), images={}), pull="always",
                             images_resolved=True),
    "up-build-missing": up(_build_stack(), Snapshot("built", images={st.NGINX: st.NGINX_ID})),
    "up-build-flag": up(_build_stack(), Snapshot("built", images=dict(st.IMAGE_IDS, **{"built-app": "sha256:1"})),
                        build=True),
    # compose's build rules (pkg/compose ensureImagesExists, build): pull what the policy
    # asks for, a failed pull of a buildable image builds it, then build what is missing
    "up-build-mix-fresh": up(_image_and_build_stack(), _mix_present()),
    "up-build-mix-present": up(_image_and_build_stack(), _mix_present("app", "api", "base", "web", "tool")),
    "up-build-mix-flag": up(_image_and_build_stack(), _mix_present("app", "api", "base", "web", "tool"),
                            build=True),
    "up-build-mix-pull-always": up(_image_and_build_stack(), _mix_present("app", "api", "base", "web", "tool"),
                                   pull="always"),
    "up-build-mix-pull-always-missing": up(_image_and_build_stack(), _mix_present("app", "base", "web", "tool"),
                                           pull="always"),
    "up-build-mix-no-build": up(_image_and_build_stack(), _mix_present("app", "base", "web", "tool"),
                                no_build=True),
    "up-build-service-context-only-web": up(_image_and_build_stack(), _mix_present("api", "tool", "base"),
                                            services=("web",), no_deps=True),
    "run-build": run(_image_and_build_stack(), _mix_present("app", "api", "base", "web", "tool"), "web",
                     build=True),
    "up-wait": up(st.webdemo(), st.deployed(st.webdemo()), wait=True, wait_timeout=30),
    "up-duplicate-after-crash": up(st.webdemo(), _duplicate_after_crash()),
    "up-interrupted-recreate": up(st.webdemo(), _interrupted_recreate()),
    "up-shared-namespace-cascade": up(st.changed(_namespace_stack(), "vpn", command=["openvpn"]),
                                      st.deployed(_namespace_stack())),
    "up-external-resources": up(_external_stack(), _external_snapshot()),
    "up-timeout": up(_web_changed(), st.deployed(st.webdemo()), timeout=3),
    # anonymous volumes on recreate: handed on by path, or renewed with -V
    "up-anon-volumes-kept": up(_anon_changed(environment={"MARK": "two"}), st.anonvol_deployed()),
    "up-anon-volumes-renew": up(st.anonvol(), st.anonvol_deployed(), renew_anon_volumes=True),
    "up-anon-volumes-one-dropped": up(_anon_changed(volumes=[]), st.anonvol_deployed()),
    "up-anon-volumes-image-changed": up(st.anonvol(), dataclasses.replace(
        st.anonvol_deployed(), images={st.DB_IMAGE: "sha256:" + "f" * 64}, image_volumes={})),
    "up-anon-volumes-no-change": up(st.anonvol(), st.anonvol_deployed()),
    # run
    "run-fresh": run(st.webdemo(), st.empty(st.webdemo()), "web", overrides={"command": ["sh"]}),
    "run-deps-running": run(st.webdemo(), st.deployed(st.webdemo()), "web", start=False),
    "run-no-deps": run(st.chain(), st.empty(st.chain()), "api", no_deps=True),
    "run-chain": run(st.chain(), st.deployed(st.chain(), status="exited"), "front"),
    "run-pull-missing": run(st.webdemo(), st.empty(st.webdemo(), images={}), "backend"),
    # down
    "down": down(st.deployed(st.chain()), st.chain()),
    "down-volumes": down(st.deployed(st.chain()), st.chain(), volumes=True),
    "down-without-file": down(st.deployed(st.chain()), None),
    "down-orphans-warning": down(_orphans(), st.webdemo()),
    "down-remove-orphans": down(_orphans(), st.webdemo(), remove_orphans=True),
    "down-stopped": down(_chain_exited(), st.chain(), volumes=True),
    "down-rmi-all": down(st.deployed(_build_stack()), _build_stack(), rmi="all"),
    "down-rmi-local": down(st.deployed(_build_stack()), _build_stack(), rmi="local"),
    "down-nothing": down(Snapshot("webdemo"), st.webdemo(), volumes=True),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_plan_matches_golden(name):
    text = SCENARIOS[name]().render()
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("STACKUP_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}; run with STACKUP_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


def test_every_golden_file_has_a_scenario():
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(SCENARIOS)
