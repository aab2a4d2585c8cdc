"""Packs a project folder as ``strata run`` does (src/Strata.Cli/Uploads/CodePacker.cs, IgnoreRules.cs).

Every regular file is packed, except what ``.gitignore`` files (the root's and those of sub-folders,
each relative to its folder) and a root ``.strataignore`` exclude, and never ``.git/``.
``.strataignore`` is read after ``.gitignore``, so it can also re-include (``!data/small.csv``).
Symbolic links are neither followed nor packed (the job would see a link to a path of this machine);
they are reported instead.
"""
from __future__ import annotations

import os
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Pattern, Tuple

STRATA_IGNORE = ".strataignore"
GIT_IGNORE = ".gitignore"


@dataclass
class PackResult:
    """What :func:`pack` put in the archive: its path (the caller deletes it), file count, bytes and skipped links."""

    archive_path: str
    files: int
    bytes: int
    skipped_links: List[str] = field(default_factory=list)


class IgnoreRules:
    """The patterns of one ``.gitignore`` (or ``.strataignore``) file, with git's meaning.

    Blank lines and ``#`` comments are skipped; ``!`` re-includes; a trailing ``/`` matches folders
    only; a pattern with a ``/`` before its end is anchored to the file's folder, one without matches
    at any depth; ``*``, ``?`` and ``[...]`` stay within a path segment; ``**`` spans segments;
    ``\\`` escapes. The last matching pattern decides.
    """

    def __init__(self, lines: Iterable[str], base_folder: str = "") -> None:
        self.base_folder = base_folder.strip("/")
        self._rules: List[Tuple[Pattern[str], bool, bool]] = []
        for raw in lines:
            rule = _parse(raw)
            if rule is not None:
                self._rules.append(rule)

    def match(self, path: str, is_folder: bool) -> Optional[bool]:
        """True or False when a pattern decides about ``path`` (relative to the packed root), None when none does."""
        if not self.base_folder:
            relative = path
        elif path.startswith(self.base_folder + "/"):
            relative = path[len(self.base_folder) + 1:]
        else:
            return None
        for pattern, negated, folders_only in reversed(self._rules):
            if folders_only and not is_folder:
                continue
            if pattern.match(relative):
                return not negated
        return None


def _parse(raw: str) -> Optional[Tuple[Pattern[str], bool, bool]]:
    line = raw.rstrip("\r\n").rstrip("\r")
    if not line or line[0] == "#":
        return None
    # Trailing spaces are dropped unless escaped.
    end = len(line)
    while end > 0 and line[end - 1] == " " and not (end > 1 and line[end - 2] == "\\"):
        end -= 1
    line = line[:end]
    negated = False
    if line.startswith("!"):
        negated, line = True, line[1:]
    elif line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    folders_only = line.endswith("/") and not line.endswith("\\/")
    line = line.rstrip("/")
    if not line:
        return None
    # A slash at the start or in the middle anchors the pattern to the ignore file's folder.
    anchored = "/" in line
    line = line.lstrip("/")
    regex = "^" + ("" if anchored else "(?:.*/)?") + _translate(line) + "$"
    return re.compile(regex, re.DOTALL), negated, folders_only


def _translate(pattern: str) -> str:
    out: List[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*" and i + 1 < n and pattern[i + 1] == "*":
            at_start = i == 0 or pattern[i - 1] == "/"
            at_end = i + 2 == n or pattern[i + 2] == "/"
            if at_start and at_end:
                if i + 2 == n:
                    out.append(".*")  # x/** : everything inside
                else:
                    out.append("(?:.*/)?")  # **/x or a/**/b : zero or more folders
                    i += 1
                i += 1
            else:
                out.append("[^/]*")  # ** inside a segment is a plain *
                i += 1
        elif c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i + 2)
            if close < 0:
                out.append("\\[")
            else:
                chars = pattern[i + 1:close]
                if chars.startswith("!"):
                    chars = "^" + chars[1:]
                out.append("[" + chars.replace("\\", "\\\\") + "]")
                i = close
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def select(root: str, skipped_links: Optional[List[str]] = None) -> List[str]:
    """The relative paths (with ``/``) of the files that would be packed, in order."""
    root = os.path.abspath(root)
    files: List[str] = []
    strata_path = os.path.join(root, STRATA_IGNORE)
    strata = None
    if os.path.isfile(strata_path):
        with open(strata_path, encoding="utf-8") as f:
            strata = IgnoreRules(f.read().split("\n"))
    _walk(root, "", [], strata, files, skipped_links if skipped_links is not None else [])
    return files


def pack(root: str) -> PackResult:
    """Writes the archive (tar.gz) of ``root`` to a new temporary file."""
    root = os.path.abspath(root)
    skipped: List[str] = []
    files = select(root, skipped)
    handle, archive = tempfile.mkstemp(prefix="strata-run-", suffix=".tar.gz")
    os.close(handle)
    total = 0
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as tar:
        for relative in files:
            path = os.path.join(root, relative)
            tar.add(path, arcname=relative, recursive=False)
            total += os.path.getsize(path)
    return PackResult(archive, len(files), total, skipped)


def _walk(root: str, relative: str, rules: List[IgnoreRules], strata: Optional[IgnoreRules],
          files: List[str], skipped_links: List[str]) -> None:
    folder = os.path.join(root, relative) if relative else root
    gitignore = os.path.join(folder, GIT_IGNORE)
    added = os.path.isfile(gitignore)
    if added:
        with open(gitignore, encoding="utf-8") as f:
            rules.append(IgnoreRules(f.read().split("\n"), relative))
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            path = entry.name if not relative else relative + "/" + entry.name
            is_folder = entry.is_dir()
            if is_folder and entry.name == ".git":
                continue
            if _is_ignored(path, is_folder, rules, strata):
                continue
            if entry.is_symlink():
                skipped_links.append(path)
                continue
            if is_folder:
                _walk(root, path, rules, strata, files, skipped_links)
            elif entry.is_file():
                files.append(path)
    finally:
        if added:
            rules.pop()


def _is_ignored(path: str, is_folder: bool, rules: List[IgnoreRules], strata: Optional[IgnoreRules]) -> bool:
    """The deepest .gitignore that has a say wins (as in git), then .strataignore over all of them."""
    if strata is not None:
        decided = strata.match(path, is_folder)
        if decided is not None:
            return decided
    for rule in reversed(rules):
        decided = rule.match(path, is_folder)
        if decided is not None:
            return decided
    return False
