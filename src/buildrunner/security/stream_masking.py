"""Masking a stream as it is written: a task's output reaches its log masked while the task runs.

Output is released line by line. A line is written once it is complete, except where a
rule that spans lines (a PEM private key, a service-account JSON) may have begun and not
yet ended: from the line holding such a rule's keyword, output waits until the rule
matches or `window` bytes have passed. A line that never ends is released at its last
whitespace once it is longer than `window` (a secret holds no whitespace), so memory
stays bounded. A secret found once is also masked wherever it appears again later.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from buildrunner.security.masking import mask_value

if TYPE_CHECKING:
    from buildrunner.security.rules import RuleSet

DEFAULT_WINDOW = 16 * 1024
_WHITESPACE = re.compile(rb"\s")


class StreamMasker:
    """`feed` raw bytes in, get masked text that is safe to write now; `flush` the rest at the end.

    Bytes that are not UTF-8 come back as surrogate escapes: written with `errors="surrogateescape"` they are the
    bytes that came in (a Latin-1 file, binary output), not U+FFFD in their place.
    """

    def __init__(self, rules: "RuleSet", window: int = DEFAULT_WINDOW) -> None:
        self.rules = rules
        self.window = window
        self._pending = b""
        self._seen: set[str] = set()
        self._openers = rules.line_spanning_keywords

    @property
    def holding(self) -> bool:
        """Whether output is waiting (for the end of its line, or of a multi-line secret)."""
        return bool(self._pending)

    def feed(self, data: bytes) -> str:
        self._pending += data
        cut = self._safe_cut()
        return self._release(cut)

    def flush(self) -> str:
        """Everything still held, masked (the stream has ended)."""
        return self._release(len(self._pending))

    def idle(self) -> str:
        """The stream paused: release what no secret can still be completing (complete lines, as `feed`)."""
        return self._release(self._safe_cut())

    def _safe_cut(self) -> int:
        pending = self._pending
        cut = pending.rfind(b"\n") + 1
        if cut == 0:
            return self._overlong_cut(pending)
        held = self._open_multiline(pending, cut)
        if held is not None and len(pending) - held < self.window:
            cut = min(cut, held)
        return cut

    def _overlong_cut(self, pending: bytes) -> int:
        """A partial line longer than the window is released up to its last whitespace."""
        if len(pending) <= self.window:
            return 0
        spaces = [m.start() for m in _WHITESPACE.finditer(pending, len(pending) - self.window)]
        return spaces[-1] + 1 if spaces else len(pending) - self.window

    def _open_multiline(self, pending: bytes, cut: int) -> int | None:
        """Start of the line of the first keyword of a multi-line rule that no match has closed before `cut`.

        Keywords older than the window are given up on: a secret is never that long.
        """
        if not self._openers:
            return None
        lowered = pending.lower()
        pos = max(0, len(pending) - self.window)
        start, closed_at = 0, -1
        while True:
            found = [at for at in (lowered.find(keyword, pos) for keyword in self._openers) if at >= 0]
            if not found:
                return None
            first = min(found)
            line = pending.rfind(b"\n", 0, first) + 1
            if line >= closed_at:  # holding from here cuts no earlier match (else: from where that match's line began)
                start = line
            ends = [line + hit.end for hit in self.rules.find(pending[line:]) if line + hit.end > first]
            if not ends or max(ends) > cut:
                return start
            pos = closed_at = max(ends)  # closed by a match: look for another keyword after it

    def _release(self, cut: int) -> str:
        if cut <= 0:
            return ""
        chunk, self._pending = self._pending[:cut], self._pending[cut:]
        hits = self.rules.find(chunk)
        out: list[str] = []
        pos = 0
        for hit in hits:
            if hit.start < pos:
                continue
            out.append(chunk[pos : hit.start].decode("utf-8", "surrogateescape"))
            out.append(hit.masked)
            pos = hit.end
            if len(hit.secret) >= 4:
                self._seen.add(hit.secret)
        out.append(chunk[pos:].decode("utf-8", "surrogateescape"))
        text = "".join(out)
        for secret in self._seen:
            if secret in text:
                text = text.replace(secret, mask_value(secret))
        return text
