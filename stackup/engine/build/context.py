"""The build context as COPY and ADD see it: which paths a source names, what is below
them, and a digest of their content for the cache key.

BuildKit's rules, which these follow:

- The context is seen through the ignore file (see dockerignore): an ignored path does
  not exist for COPY, so naming it is "not found".
- A source is taken from the context root: `/a` is `a`. One that leaves the root by `..`
  is refused (BuildKit quietly clamps it to the root; Docker's classic builder refused it,
  and a clear error is kinder than copying the wrong thing).
- Wildcards are Go's `filepath.Match`, per path component: the source is split at its
  first component with a wildcard, the part before it is a folder, and the part after
  is matched against paths below that folder with the same number of components (so
  `**` is just `*`). A matched folder is not looked into. Matches come in name order.
- A source is resolved with its symlinks followed, the last component included, inside
  the context root as if it were `/` (BuildKit's COPY sets FollowSymlinks): `COPY link
  /x` copies what `link` points at. Symlinks BELOW a copied folder stay symlinks.
- A source (or wildcard) that names nothing is an error naming it.

`walk` lists what a source brings (for the copier and the hasher); `ContentHasher`
digests it: names, types, modes, owners, sizes, bytes and link targets, never times.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackup.engine.build.dockerignore import Matcher, MatchInfo, clean, glob_regex, has_wildcards
from stackup.errors import UserError

MAX_LINKS = 255  # symlinks followed while resolving one source, as securejoin bounds it


@dataclass(frozen=True)
class Source:
    """One path a COPY/ADD source names, after wildcards.

    `path` is the name as matched (relative to the context root, `/`-separated, "." for
    the root): its last component is the name a copied FILE gets in a folder
    destination. `resolved` is where the content is (the same path with its symlinks
    followed, inside the root). `is_dir`: a folder, whose CONTENTS are copied."""

    path: str
    resolved: str
    is_dir: bool

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


class SourceError(UserError):
    """A source that names nothing in the context, or leaves it."""


def resolve_sources(root: Path, patterns: Sequence[str], matcher: Matcher | None, *,
                    follow: bool = True, instruction: str = "COPY", where: str = "") -> list[Source]:
    """The sources `patterns` (the COPY/ADD source arguments, already expanded) name in the
    context at `root`, seen through `matcher`; in the order given, wildcard matches in name
    order. `follow=False` keeps a source that is itself a symlink as the symlink (its
    parent folders are still followed). Raises SourceError ("<where>: COPY source "x" not
    found in the build context") for a source naming nothing or leaving the context."""
    prefix = f"{where}: " if where else ""
    found: list[Source] = []
    for pattern in patterns:
        rel = _inside(pattern)
        if rel is None:
            raise SourceError(f'{prefix}{instruction} source "{pattern}" is outside the build context')
        if not has_wildcards(rel):
            source = _source(root, rel, matcher, follow)
            if source is None:
                raise SourceError(f'{prefix}{instruction} source "{pattern}" not found in the build context'
                                  + _ignored_note(matcher, rel))
            found.append(source)
            continue
        matches = _expand(root, rel, matcher, follow)
        if not matches:
            raise SourceError(f'{prefix}{instruction} source "{pattern}" matches no file in the build context')
        found.extend(matches)
    return found


def _inside(pattern: str) -> str | None:
    """The source as a clean path relative to the root ("." for the root), None if it
    climbs out of it. A leading `/` means the root."""
    rel = clean(pattern).lstrip("/") or "."
    if rel == ".." or rel.startswith("../"):
        return None
    return rel


def _ignored_note(matcher: Matcher | None, rel: str) -> str:
    if matcher and matcher.excludes(rel):
        return f" (excluded by {matcher.source.name if matcher.source else 'the ignore patterns'})"
    return ""


def _source(root: Path, rel: str, matcher: Matcher | None, follow: bool) -> Source | None:
    resolved = resolve_in_context(root, rel, matcher, follow_last=follow)
    if resolved is None:
        return None
    try:
        mode = os.lstat(_host(root, resolved)).st_mode
    except OSError:
        return None
    return Source(rel, resolved, stat.S_ISDIR(mode))


def _expand(root: Path, rel: str, matcher: Matcher | None, follow: bool) -> list[Source]:
    """fsutil's ResolveWildcards: the components before the first wildcard are a folder,
    the rest is matched against paths below it, depth by depth."""
    parts = rel.split("/")
    first = next(i for i, part in enumerate(parts) if has_wildcards(part))
    base_rel = "/".join(parts[:first]) or "."
    try:
        regex = glob_regex("/".join(parts[first:]))
    except ValueError as err:
        raise SourceError(f'bad source pattern "{rel}": {err}') from None
    base = resolve_in_context(root, base_rel, matcher, follow_last=True)
    if base is None:
        return []
    depth = len(parts) - first
    found: list[Source] = []
    for path in _matching(root, base, "", depth, regex, matcher):
        source = _source(root, path, matcher, follow)
        if source is not None:
            found.append(source)
    return found


def _matching(root: Path, folder: str, below: str, depth: int, regex: re.Pattern[str],
              matcher: Matcher | None) -> Iterator[str]:
    """Context paths under `folder` whose path relative to it (`below` so far) matches, no
    deeper than `depth` components, in name order; a matched folder is not entered."""
    try:
        names = sorted(os.listdir(_host(root, folder)))
    except (NotADirectoryError, FileNotFoundError, PermissionError):
        return
    for name in names:
        path = _join(folder, name)
        relative = f"{below}/{name}" if below else name
        if not _visible(root, path, matcher):
            continue
        if regex.match(relative):
            yield path
        elif depth > 1 and _is_real_dir(root, path):
            yield from _matching(root, path, relative, depth - 1, regex, matcher)


def _is_real_dir(root: Path, path: str) -> bool:
    """A folder and not a symlink to one (a wildcard walk does not follow links)."""
    try:
        return stat.S_ISDIR(os.lstat(_host(root, path)).st_mode)
    except OSError:
        return False


def resolve_in_context(root: Path, rel: str, matcher: Matcher | None, *, follow_last: bool = True) -> str | None:
    """`rel` with its symlinks followed inside `root` as if it were `/` (an absolute target
    starts again at the root, `..` stops at it), as a clean relative path ("." for the
    root); None when a component does not exist in the context as `matcher` shows it."""
    done: list[str] = []
    todo = [part for part in reversed(rel.split("/")) if part not in ("", ".")]
    links = 0
    while todo:
        part = todo.pop()
        if part == "..":
            if done:
                done.pop()
            continue
        path = "/".join(done + [part])
        try:
            st = os.lstat(_host(root, path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not _visible(root, path, matcher, st):
            return None
        if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
            links += 1
            if links > MAX_LINKS:
                raise SourceError(f'cannot resolve "{rel}" in the build context: more than {MAX_LINKS} symbolic links')
            target = os.readlink(_host(root, path))
            if target.startswith("/"):
                done = []
            todo.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
            continue
        if todo and not stat.S_ISDIR(st.st_mode):
            return None
        done.append(part)
    return "/".join(done) or "."


def _visible(root: Path, path: str, matcher: Matcher | None, st: os.stat_result | None = None) -> bool:
    """Whether a context path exists as the ignore file shows the context: not excluded,
    or an excluded folder that holds something an exception brings back."""
    if not matcher or not matcher.excludes(path):
        return True
    if st is None:
        try:
            st = os.lstat(_host(root, path))
        except OSError:
            return False
    if not stat.S_ISDIR(st.st_mode) or not matcher.may_include_below(path):
        return False
    kept = _entries(root, path, matcher, None, _parent_info(matcher, path), "", None, [])
    return next(kept, None) is not None


def walk(root: Path, source: Source, matcher: Matcher | None,
         exclude: Matcher | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """What copying `source` brings: (path relative to the source, lstat) pairs, "." (the
    source itself) first, then for a folder everything below it in name order, a folder
    before its contents. Paths `matcher` (the ignore file, matched from the context root)
    or `exclude` (COPY --exclude, matched from the source) exclude are left out; an
    excluded folder appears only when something inside it is kept. Symlinks below the
    source are not followed."""
    try:
        st = os.lstat(_host(root, source.resolved))
    except OSError as err:
        raise SourceError(f'cannot read "{source.path}" in the build context: {err.strerror}') from None
    yield ".", st
    if not stat.S_ISDIR(st.st_mode):
        return
    parent = _parent_info(matcher, source.resolved)
    yield from _entries(root, source.resolved, matcher, exclude, parent, "", None, [])


def _parent_info(matcher: Matcher | None, path: str) -> MatchInfo | None:
    if not matcher or path == ".":
        return None
    info: MatchInfo | None = None
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        _, info = matcher.matches("/".join(parts[:depth]), info)
    return info


def _entries(root: Path, folder: str, matcher: Matcher | None, exclude: Matcher | None,
             info: MatchInfo | None, below: str, ex_info: MatchInfo | None,
             pending: list[tuple[str, os.stat_result]]) -> Iterator[tuple[str, os.stat_result]]:
    """The kept entries below `folder` (a context path); `below` is its path relative to
    the source, `info`/`ex_info` its MatchInfo for `matcher`/`exclude`. `pending` holds
    excluded folders above, yielded only once something below them is kept."""
    try:
        with os.scandir(_host(root, folder)) as it:
            entries = sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return  # removed meanwhile
    except OSError as err:
        raise SourceError(f'cannot read "{folder}" in the build context: {err.strerror}') from None
    top = folder == "."
    for entry in entries:
        name = entry.name
        path = name if top else f"{folder}/{name}"
        rel = f"{below}/{name}" if below else name
        skip = descend = False
        child_info = child_ex = None
        if matcher:
            excluded, child_info = matcher.matches(path, info)
            if excluded:
                skip = True
                descend = matcher.may_include_below(path)
        if exclude:
            excluded, child_ex = exclude.matches(rel, ex_info)
            if excluded:
                descend = (descend or not skip) and exclude.may_include_below(rel)
                skip = True
        is_dir = entry.is_dir(follow_symlinks=False)
        if skip and not (is_dir and descend):
            continue
        st = entry.stat(follow_symlinks=False)
        if skip:
            # an excluded folder an exception may reach into: shown only as a parent
            pending.append((rel, st))
            yield from _entries(root, path, matcher, exclude, child_info, rel, child_ex, pending)
            if pending and pending[-1][0] == rel:
                pending.pop()  # nothing inside was kept
            continue
        if pending:
            yield from pending
            pending.clear()
        yield rel, st
        if is_dir:
            yield from _entries(root, path, matcher, exclude, child_info, rel, child_ex, pending)


def _host(root: Path, rel: str) -> str:
    return str(root) if rel == "." else f"{root}/{rel}"


def _join(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"



RACY_WINDOW = 2.0
"""Seconds: a file whose ctime is this recent when it is hashed is not put in the stat
cache. A write within the same timestamp tick (1 s on some filesystems) would leave its
size, mtime and ctime as they were, so its cached digest could not be trusted (git's
"racy" entries); ctime cannot be set back by a user, so once it is older than the window
any later write shows."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    dev INTEGER NOT NULL, ino INTEGER NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    PRIMARY KEY (dev, ino)
) WITHOUT ROWID
"""


class ContentHasher:
    """Digests of what COPY/ADD sources bring, with a stat cache so that an unchanged
    context costs one `lstat` per file.

    The cache (an sqlite file in WAL mode, so builds running at once share it) maps a
    file's (dev, ino) to the (size, mtime_ns, ctime_ns) it had when hashed and its
    sha256; a file whose stat still agrees is not read again. It is only a cache: when it
    cannot be opened or written, files are hashed. Safe to use from several threads."""

    def __init__(self, cache_db: Path, *, racy_window: float = RACY_WINDOW):
        self.cache_db = cache_db
        self.racy_window_ns = int(racy_window * 1e9)
        self.files_read = 0  # files hashed by reading them (the rest came from the cache)
        self._db: sqlite3.Connection | None = None
        self._opened = False
        self._lock = threading.Lock()

    def __enter__(self) -> ContentHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None

    def digest(self, root: Path, sources: Sequence[Source], matcher: Matcher | None,
               exclude: Matcher | None = None) -> str:
        """"sha256:<hex>" over the sources in order and everything `walk` lists for each:
        path, type, permission bits (with setuid/setgid/sticky), uid, gid, size, the sha256
        of a file's bytes, a symlink's target, a device's numbers, which paths are hard
        links of each other. Never a time: `touch` keeps the digest."""
        listing = [(source, list(walk(root, source, matcher, exclude))) for source in sources]
        known = self._cached([st for _, entries in listing for _, st in entries if stat.S_ISREG(st.st_mode)])
        total = hashlib.sha256()
        fresh: list[tuple[int, int, int, int, int, bytes]] = []
        for source, entries in listing:
            total.update(b"source\0%s\0%s\0%d\n" % (_b(source.path), _b(source.resolved), source.is_dir))
            links: dict[tuple[int, int], str] = {}
            base = _host(root, source.resolved)
            for rel, st in entries:
                total.update(self._record(known, base, rel, st, links, fresh))
        if fresh:
            self._store(fresh)
        return "sha256:" + total.hexdigest()

    def _cached(self, files: list[os.stat_result]) -> dict[tuple[int, int], bytes]:
        """The cached sha256 of each of these files whose stat still agrees with the cache,
        looked up in batches (one query per 500 files rather than one each)."""
        with self._lock:
            db = self._connect()
            if db is None or not files:
                return {}
            by_dev: dict[int, dict[int, os.stat_result]] = {}
            for st in files:
                by_dev.setdefault(_signed(st.st_dev), {})[_signed(st.st_ino)] = st
            known: dict[tuple[int, int], bytes] = {}
            try:
                for dev, inodes in by_dev.items():
                    numbers = list(inodes)
                    for start in range(0, len(numbers), 500):
                        chunk = numbers[start:start + 500]
                        rows = db.execute(
                            "SELECT ino, size, mtime_ns, ctime_ns, sha256 FROM files WHERE dev=? AND ino IN "
                            f"({','.join('?' * len(chunk))})", [dev, *chunk])
                        for ino, size, mtime_ns, ctime_ns, sha in rows:
                            st = inodes[ino]
                            if (size, mtime_ns, ctime_ns) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
                                known[(st.st_dev, st.st_ino)] = bytes(sha)
            except sqlite3.Error:
                return known  # a busy or damaged cache: what is not known is read
            return known

    def _record(self, known: dict[tuple[int, int], bytes], base: str, rel: str, st: os.stat_result,
                links: dict[tuple[int, int], str], fresh: list[tuple[int, int, int, int, int, bytes]]) -> bytes:
        mode = st.st_mode
        kind = stat.S_IFMT(mode)
        host = base if rel == "." else f"{base}/{rel}"
        extra = b""
        size = 0
        if kind == stat.S_IFREG:
            size = st.st_size
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1:
                first = links.setdefault(key, rel)
                if first != rel:
                    extra = b"hardlink\0" + _b(first)
            if not extra:
                extra = known.get(key) or self._file_sha(host, rel, st, fresh)
        elif kind == stat.S_IFLNK:
            extra = os.readlink(os.fsencode(host))
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            extra = b"%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        return b"%s\0%o\0%o\0%d\0%d\0%d\0%s\n" % (_b(rel), kind, stat.S_IMODE(mode), st.st_uid,
                                                  st.st_gid, size, extra)

    def _file_sha(self, host: str, rel: str, st: os.stat_result,
                  fresh: list[tuple[int, int, int, int, int, bytes]]) -> bytes:
        sha, steady = _read_sha(host, rel, st)
        self.files_read += 1
        if steady and st.st_ctime_ns < time.time_ns() - self.racy_window_ns:
            fresh.append((_signed(st.st_dev), _signed(st.st_ino), st.st_size, st.st_mtime_ns, st.st_ctime_ns, sha))
        return sha

    def _connect(self) -> sqlite3.Connection | None:
        """The cache, opened once; a damaged file is started afresh, an unusable one means
        no cache (every file is read)."""
        if self._opened:
            return self._db
        self._opened = True
        for attempt in range(2):
            try:
                self.cache_db.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.cache_db, timeout=10, check_same_thread=False,
                                     isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                self._db = db
                return db
            except sqlite3.DatabaseError:
                if attempt:
                    return None
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.cache_db}{suffix}").unlink(missing_ok=True)
            except OSError:
                return None
        return None

    def _store(self, fresh: list[tuple[int, int, int, int, int, bytes]]) -> None:
        with self._lock:
            if self._db is None:
                return
            try:
                with self._db:  # one transaction
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", fresh)
            except sqlite3.Error:
                pass  # busy past the timeout or read-only: the next build reads these files again


def _read_sha(host: str, rel: str, st: os.stat_result) -> tuple[bytes, bool]:
    """The sha256 of a file's bytes, and whether it held still while read (same inode,
    size, mtime and ctime before and after): only then may the digest be cached."""
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as err:
        raise UserError(f"cannot read {rel} in the build context: {os.strerror(err.errno or errno.EIO)}") from None
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            sha = hashlib.file_digest(handle, "sha256").digest()
        after = os.fstat(fd)
    finally:
        os.close(fd)
    steady = (after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns) == (
        st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return sha, steady


def _signed(number: int) -> int:
    """A 64-bit unsigned stat field as sqlite's signed integer."""
    return number - (1 << 64) if number >= (1 << 63) else number


def _b(text: str) -> bytes:
    return os.fsencode(text)
