"""The one Jinja2 sandbox: customer lines are templates, transition conditions are expressions.

Scenario files come from managers, not from us, so nothing in them runs as Python: templates render in a
`SandboxedEnvironment` (no dunder access, no unsafe calls) with `StrictUndefined` (a misspelt name is an error,
not an empty string), and conditions are compiled Jinja expressions, never `eval`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

# Names the engine provides to every customer line, beside the scenario's own variables.
LINE_NAMES = frozenset({"customer", "trainee", "mood", "patience", "turn", "difficulty"})
# Names the engine provides to every transition condition.
CONDITION_NAMES = frozenset(
    {"scores", "levels", "overall", "goals", "red_flag", "mood", "patience", "turn", "difficulty"}
)

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateProblem(Exception):
    """A template or condition that does not parse, or fails when run; the message says why."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, TemplateError) and getattr(exc, "message", None):
        return str(exc.message)
    return f"{type(exc).__name__}: {exc}"


@lru_cache(maxsize=2048)
def _template(source: str):
    try:
        return _env.from_string(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template syntax error: {_describe(exc)}") from None


@lru_cache(maxsize=2048)
def compile_condition(source: str) -> Callable[..., Any]:
    try:
        return _env.compile_expression(source, undefined_to_none=False)
    except TemplateError as exc:
        raise TemplateProblem(f"condition syntax error: {_describe(exc)}") from None


def render_line(source: str, context: dict[str, Any]) -> str:
    try:
        return _template(source).render(**context)
    except TemplateProblem:
        raise
    except Exception as exc:  # the sandbox raises SecurityError, UndefinedError, TypeError, …
        raise TemplateProblem(f"template failed: {_describe(exc)}") from None


def evaluate_condition(source: str, context: dict[str, Any]) -> bool:
    expression = compile_condition(source)
    try:
        return bool(expression(**context))
    except Exception as exc:
        raise TemplateProblem(f"condition failed: {_describe(exc)}") from None


def template_names(source: str) -> set[str]:
    """Top-level names a template reads (for "variable not declared" checks)."""
    from jinja2 import meta

    try:
        return set(meta.find_undeclared_variables(_env.parse(source)))
    except TemplateError as exc:
        raise TemplateProblem(f"template syntax error: {_describe(exc)}") from None


def condition_names(source: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Names a condition reads, and the (name, attribute) pairs like ("scores", "empathy") it looks up."""
    try:
        tree = _env.parse("{{ " + source + " }}")
    except TemplateError as exc:
        raise TemplateProblem(f"condition syntax error: {_describe(exc)}") from None
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    lookups: set[tuple[str, str]] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            lookups.add((node.node.name, node.attr))
    for node in tree.find_all(nodes.Getitem):
        if isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            lookups.add((node.node.name, node.arg.value))
    return names, lookups
