"""Tokenize and evaluate arithmetic expressions such as `2 * (3 + 4)` without `eval`."""

from __future__ import annotations

import operator
import re

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*)|(.))")
_OPS = {"+": (1, operator.add), "-": (1, operator.sub), "*": (2, operator.mul), "/": (2, operator.truediv)}


def tokenize(text: str) -> list[str]:
    """Numbers, operators and parentheses, in order."""
    tokens = []
    for number, other in _TOKEN.findall(text):
        if number:
            tokens.append(number)
        elif other.strip():
            if other not in _OPS and other not in "()":
                raise ValueError(f"unexpected character {other!r}")
            tokens.append(other)
    return tokens


def _to_rpn(tokens: list[str]) -> list[str]:
    """Shunting-yard: infix tokens to reverse Polish notation."""
    out: list[str] = []
    stack: list[str] = []
    for token in tokens:
        if token in _OPS:
            while stack and stack[-1] in _OPS and _OPS[stack[-1]][0] >= _OPS[token][0]:
                out.append(stack.pop())
            stack.append(token)
        elif token == "(":
            stack.append(token)
        elif token == ")":
            while stack and stack[-1] != "(":
                out.append(stack.pop())
            if not stack:
                raise ValueError("unbalanced ')'")
            stack.pop()
        else:
            out.append(token)
    while stack:
        if stack[-1] == "(":
            raise ValueError("unbalanced '('")
        out.append(stack.pop())
    return out


def evaluate(text: str) -> float:
    """The value of an arithmetic expression."""
    values: list[float] = []
    for token in _to_rpn(tokenize(text)):
        if token in _OPS:
            if len(values) < 2:
                raise ValueError("missing operand")
            right, left = values.pop(), values.pop()
            values.append(_OPS[token][1](left, right))
        else:
            values.append(float(token))
    if len(values) != 1:
        raise ValueError("malformed expression")
    return values[0]
