"""Skip logic and calculated fields in REDCap's syntax, parsed once and evaluated safely.

Never ``eval``: a study's dictionary is data written by people outside the platform. The grammar
is the subset study teams use: ``[field]``, checkbox options ``[field(code)]``, numbers, quoted
strings, ``= <> != < <= > >=``, ``+ - * / ^``, ``and or not``, parentheses and a few functions
(``if sum mean min max round abs isblank``). Blank answers follow REDCap: a comparison with a blank
is false except ``= ''``; arithmetic with a blank is blank; ``sum``/``mean`` skip blanks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from workbench.errors import ValidationError

__all__ = ["Expression", "compile_expression", "evaluate", "fields_in", "holds"]

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<field>\[[A-Za-z_][A-Za-z0-9_.\-]*(?:\([A-Za-z0-9_\-]+\))?\])
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op><>|!=|<=|>=|=|<|>|\+|-|\*|/|\^|\(|\)|,)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
FUNCTIONS = {"if": (3, 3), "sum": (1, 99), "mean": (1, 99), "min": (1, 99), "max": (1, 99),
             "round": (1, 2), "abs": (1, 1), "isblank": (1, 1)}
Blank = None


@dataclass(frozen=True)
class Expression:
    source: str
    tree: tuple[Any, ...]

    def fields(self) -> set[str]:
        return fields_in(self.tree)


def _tokens(source: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ValidationError(f"cannot read {source[pos:pos + 12]!r} in {source!r}", where="expression")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append((kind, match.group()))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent: or < and < not < comparison < additive < multiplicative < power < unary."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.pos = 0

    def fail(self, message: str) -> ValidationError:
        return ValidationError(f"{message} in {self.source!r}", where="expression")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1].lower() != value):
            raise self.fail(f"expected {value or 'more'}")
        self.pos += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() in words

    def parse(self) -> tuple[Any, ...]:
        if not self.tokens:
            raise self.fail("empty expression")
        tree = self.disjunction()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return tree

    def disjunction(self) -> tuple[Any, ...]:
        left = self.conjunction()
        while self.word("or"):
            self.pos += 1
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self) -> tuple[Any, ...]:
        left = self.negation()
        while self.word("and"):
            self.pos += 1
            left = ("and", left, self.negation())
        return left

    def negation(self) -> tuple[Any, ...]:
        if self.word("not"):
            self.pos += 1
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> tuple[Any, ...]:
        left = self.additive()
        token = self.peek()
        if token is not None and token[1] in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.pos += 1
            op = "<>" if token[1] == "!=" else token[1]
            return ("cmp", op, left, self.additive())
        return left

    def additive(self) -> tuple[Any, ...]:
        left = self.multiplicative()
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.pos += 1
            left = ("arith", token[1], left, self.multiplicative())
        return left

    def multiplicative(self) -> tuple[Any, ...]:
        left = self.power()
        while (token := self.peek()) is not None and token[1] in ("*", "/"):
            self.pos += 1
            left = ("arith", token[1], left, self.power())
        return left

    def power(self) -> tuple[Any, ...]:
        base = self.unary()
        if (token := self.peek()) is not None and token[1] == "^":
            self.pos += 1
            return ("arith", "^", base, self.power())
        return base

    def unary(self) -> tuple[Any, ...]:
        token = self.peek()
        if token is not None and token[1] == "-":
            self.pos += 1
            return ("neg", self.unary())
        return self.atom()

    def atom(self) -> tuple[Any, ...]:
        kind, text = self.take()
        if kind == "number":
            return ("lit", float(text))
        if kind == "string":
            return ("lit", text[1:-1])
        if kind == "field":
            inner = text[1:-1]
            if "(" in inner:
                name, code = inner[:-1].split("(", 1)
                return ("option", name, code)
            return ("field", inner)
        if text == "(":
            tree = self.disjunction()
            self.take(")")
            return tree
        if kind == "word" and text.lower() in ("true", "false"):
            return ("lit", 1.0 if text.lower() == "true" else 0.0)
        if kind == "word":
            name = text.lower()
            if name not in FUNCTIONS:
                raise self.fail(f"unknown function {text!r}")
            self.take("(")
            args = [self.disjunction()]
            while (token := self.peek()) is not None and token[1] == ",":
                self.pos += 1
                args.append(self.disjunction())
            self.take(")")
            low, high = FUNCTIONS[name]
            if not low <= len(args) <= high:
                raise self.fail(f"{name}() takes {low}–{high} arguments")
            return ("call", name, tuple(args))
        raise self.fail(f"unexpected {text!r}")


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    return Expression(source, _Parser(source).parse())


def fields_in(tree: Any) -> set[str]:
    if not isinstance(tree, tuple):
        return set()
    if tree[0] in ("field", "option"):
        return {tree[1]}
    return set().union(*(fields_in(part) for part in tree[1:]))


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, list):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(op: str, a: Any, b: Any) -> bool:
    blank_a, blank_b = a in (None, ""), b in (None, "")
    if blank_a or blank_b:
        same = blank_a and blank_b
        return same if op == "=" else (not same if op == "<>" else False)
    x, y = _number(a), _number(b)
    left, right = (x, y) if x is not None and y is not None else (str(a), str(b))
    return {"=": left == right, "<>": left != right, "<": left < right, "<=": left <= right,
            ">": left > right, ">=": left >= right}[op]


def _truth(value: Any) -> bool:
    if value in (None, ""):
        return False
    number = _number(value)
    return bool(number) if number is not None else bool(value)


def _eval(tree: tuple[Any, ...], answers: Mapping[str, Any]) -> Any:
    tag = tree[0]
    if tag == "lit":
        return tree[1]
    if tag == "field":
        value = answers.get(tree[1])
        return Blank if value in (None, "") else value
    if tag == "option":
        value = answers.get(tree[1])
        if isinstance(value, list):
            chosen = {str(v) for v in value}
        else:  # ODK's selected() also tests a single choice
            chosen = set() if value in (None, "") else {str(value)}
        return "1" if tree[2] in chosen else "0"
    if tag == "or":
        return _truth(_eval(tree[1], answers)) or _truth(_eval(tree[2], answers))
    if tag == "and":
        return _truth(_eval(tree[1], answers)) and _truth(_eval(tree[2], answers))
    if tag == "not":
        return not _truth(_eval(tree[1], answers))
    if tag == "cmp":
        return _compare(tree[1], _eval(tree[2], answers), _eval(tree[3], answers))
    if tag == "neg":
        value = _number(_eval(tree[1], answers))
        return None if value is None else -value
    if tag == "arith":
        a, b = _number(_eval(tree[2], answers)), _number(_eval(tree[3], answers))
        if a is None or b is None:
            return Blank
        op = tree[1]
        if op == "/":
            return Blank if b == 0 else a / b
        return {"+": a + b, "-": a - b, "*": a * b, "^": a ** b}[op]
    return _call(tree[1], tree[2], answers)


def _call(name: str, args: tuple[Any, ...], answers: Mapping[str, Any]) -> Any:
    if name == "if":
        return _eval(args[1], answers) if _truth(_eval(args[0], answers)) else _eval(args[2], answers)
    values = [_eval(a, answers) for a in args]
    if name == "isblank":
        return values[0] in (None, "")
    numbers = [n for n in map(_number, values) if n is not None]
    if name == "sum":
        return sum(numbers) if numbers else Blank
    if name == "mean":
        return sum(numbers) / len(numbers) if numbers else Blank
    if name in ("min", "max"):
        return (min if name == "min" else max)(numbers) if numbers else Blank
    first = _number(values[0])
    if first is None:
        return Blank
    if name == "abs":
        return abs(first)
    digits = int(_number(values[1]) or 0) if len(values) > 1 else 0
    scaled = first * 10 ** digits  # half away from zero, as REDCap and spreadsheets round
    return math.copysign(math.floor(abs(scaled) + 0.5), scaled) / 10 ** digits


def evaluate(source: str, answers: Mapping[str, Any]) -> Any:
    """The value of an expression over one participant's answers (``None`` when blank)."""
    return _eval(compile_expression(source).tree, answers)


def holds(source: str | None, answers: Mapping[str, Any]) -> bool:
    """Whether a skip-logic expression shows its item (no expression: always shown)."""
    return True if not source else _truth(evaluate(source, answers))
