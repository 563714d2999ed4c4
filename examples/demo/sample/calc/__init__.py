"""calc: a tiny expression calculator, the project the BuildRunner demo works on."""

from calc.core import evaluate, tokenize

__all__ = ["evaluate", "tokenize"]
