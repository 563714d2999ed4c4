"""The branches a session's worktree tasks commit to: `br/<session name>/<task id>`, each part made safe for git."""

from __future__ import annotations

import hashlib
import re
import unicodedata

BRANCH_PREFIX = "br"
MAX_COMPONENT = 80


def ref_component(text: str) -> str:
    """`text` as one component of a git branch name (`git check-ref-format`): letters, digits, `.`, `_`, `-`.

    Accents are dropped ("Café" -> "Cafe"); every run of anything else (spaces, `~^:?*[\\`, control
    characters, `/`, `@{`) becomes one `-`; `..`, a leading `.` or `-`, a trailing `.` and `.lock` go.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text)
    slug = re.sub(r"\.{2,}", ".", slug)
    previous = None
    while slug != previous:
        previous = slug
        slug = slug[:MAX_COMPONENT].strip(".-")
        slug = slug.removesuffix(".lock")
    return slug


def session_component(session_name: str) -> str:
    """The part of the branch names a session name gives (`br/<this>/<task>`): sessions whose names give the same
    one would commit to the same branches."""
    return ref_component(session_name) or f"session-{_short_hash(session_name)}"


def branch_name(session_name: str, task_id: str) -> str:
    """`br/<session name>/<task id>`, each part made safe for git (`ref_component`).

    A session name with nothing usable left becomes `session-<hash>`. A task id changed by
    the cleaning gets a hash of the original, so two tasks of one session never share a branch.
    """
    session = session_component(session_name)
    task = ref_component(task_id)
    if task != task_id:
        task = f"{task or 'task'}-{_short_hash(task_id)}"
    return f"{BRANCH_PREFIX}/{session}/{task}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
