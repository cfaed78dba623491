"""The one Jinja2 sandbox: customer lines are templates, transition conditions are expressions.

Scenario files come from managers, not from us, so nothing in them runs as Python: templates render in a
`SandboxedEnvironment` (no dunder access, no unsafe calls) with `StrictUndefined` (a misspelt name is an error,
not an empty string), and conditions are compiled Jinja expressions, never `eval`.

The sandbox stops code that is unsafe, not code that is big or slow: `'a' * 10**9`, `range(10**6)` nested in
itself or `'x'|center(10**9)` would take the process's memory or time. So every render and evaluation also runs
on a budget, checked in every hook the sandbox offers (operators, calls, attribute and item lookups, filters) and
in hooks this module adds to the compiled code (each loop turn, each piece of output, each `~` and each list or
dict written in the template):

* numbers stay within ±MAX_NUMBER, refused before `**` computes them;
* any text, list or dict made stays within MAX_LENGTH characters or items (nested items counted), refused before
  the operation that would make it allocates it where the size is known in advance (`*`, `center`, `%` and
  format widths, `join`, `replace`, `range`, `lipsum`, …) and checked after everything else;
* loops turn at most MAX_ITERATIONS times and the template writes at most MAX_OUTPUT characters, in one render;
* one render or evaluation runs at most TIME_LIMIT seconds of its own thread's CPU time, not counting the
  interpreter's garbage collections: wall time would fail a two-line condition whenever the machine is busy or a
  collection of the whole process's objects lands inside it, and a template can only use time by computing.

A breach is a TemplateProblem like any other failure, saying which limit and what to do.
"""

from __future__ import annotations

import functools
import gc
import math
import re
import time
import types
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any, Callable

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes, pass_context
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer
from markupsafe import EscapeFormatter, Markup

from simulator.errors import FrontlineError

# Names the engine provides to every customer line, beside the scenario's own variables.
LINE_NAMES = frozenset({"customer", "trainee", "mood", "patience", "turn", "difficulty"})
# Names the engine provides to every transition condition.
CONDITION_NAMES = frozenset(
    {"scores", "levels", "overall", "goals", "red_flag", "mood", "patience", "turn", "difficulty"}
)

MAX_NUMBER = 10**15
MAX_LENGTH = 10_000
"""Characters of any text, items of any list or dict (nested ones counted), and of the rendered line."""
MAX_OUTPUT = 100_000
"""Characters written in one render, loops, macros and `{% set %}` blocks included."""
MAX_ITERATIONS = 10_000
"""Loop turns in one render, all loops together."""
TIME_LIMIT = 0.25
"""Seconds of CPU time (garbage collection excluded) for one render or one evaluation."""


class TemplateProblem(FrontlineError):
    """A template or condition that does not parse, or fails when run; the message says why.

    `reason` is the message without its "template failed: " kind of prefix, for callers that say more about
    when it failed. A FrontlineError, so one that escapes during play is printed, not a traceback."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason if reason is not None else message


class _OverBudget(Exception):
    """Raised inside a render by the hook that found a limit passed; the message says which and what to do."""


@dataclass
class _Budget:
    deadline: float
    """time.thread_time() past which the render stops; moved on by each garbage collection inside it."""
    collection_started: float | None = None
    """time.thread_time() when a garbage collection inside the render began, while it runs."""
    iterations: int = 0
    output: int = 0
    breach: str | None = None
    """The first limit passed. Kept because Jinja or a filter may catch the exception and go on."""


_active: ContextVar[_Budget | None] = ContextVar("frontline_template_budget", default=None)


def _discount_garbage_collection(phase: str, info: dict) -> None:
    """Gives a running render back the CPU time a garbage collection took inside it (the thread that runs
    the collection is the one whose allocation triggered it, so the active budget is that render's)."""
    budget = _active.get()
    if budget is None:
        return
    if phase == "start":
        budget.collection_started = time.thread_time()
    elif budget.collection_started is not None:
        budget.deadline += time.thread_time() - budget.collection_started
        budget.collection_started = None


gc.callbacks.append(_discount_garbage_collection)


def _over(message: str) -> None:
    budget = _active.get()
    if budget is not None and budget.breach is None:
        budget.breach = message
    raise _OverBudget(message)


def _tick() -> None:
    budget = _active.get()
    if budget is None:
        return
    if budget.breach is not None:
        raise _OverBudget(budget.breach)
    if time.thread_time() > budget.deadline:
        _over(f"it ran for more than {TIME_LIMIT:g} s (the limit for one line or condition); make it simpler")


# -- sizes and numbers ------------------------------------------------------------------------------------------

_TEXT = (str, bytes, bytearray)
_CONTAINERS = (list, tuple, dict, set, frozenset, range)


def _weight(value: Any, limit: int = MAX_LENGTH) -> int:
    """Characters of text plus items of containers, nested ones counted, each time a container is reached.
    Counting stops once past `limit`, so it costs at most about `limit` steps (and ends on a list that holds
    itself)."""
    if isinstance(value, _TEXT):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        return 1
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _TEXT):
            total += len(item)
        elif isinstance(item, range):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            if total <= limit:
                stack.extend(item)
        if total > limit:
            return total
    return total


_UNITS = {"text": "characters", "list": "items", "range": "numbers"}


def _too_big(size: float, what: str = "text") -> None:
    """Refuse making a `what` ("text", "list", "range", or "<noun> text") of `size` characters or items."""
    unit = _UNITS.get(what.rsplit(" ", 1)[-1], "characters")
    shown = f"{size:,.0f}" if size < 1e30 else "far too many"
    article = "an" if what[0] in "aeiou" else "a"
    _over(f"it would make {article} {what} of {shown} {unit}; a template may make at most {MAX_LENGTH:,} "
          "(see the template limits in the README)")


def _too_large_number(description: str) -> None:
    _over(f"it would make {description}; numbers in templates must stay within ±10^15")


def _check(value: Any) -> Any:
    """`value` if it is within the limits; _OverBudget otherwise."""
    kind = type(value)
    if kind is bool or value is None:
        return value
    if kind is int or kind is float or isinstance(value, (int, float, complex)):
        magnitude = abs(value)
        if isinstance(magnitude, float) and not math.isfinite(magnitude):
            _too_large_number("a number that is infinite or not a number")
        if magnitude > MAX_NUMBER:
            digits = len(str(int(magnitude))) if magnitude < 10**4000 else 4000
            _too_large_number(f"a number of {digits} digits")
        return value
    if isinstance(value, _TEXT) or isinstance(value, _CONTAINERS):
        if _weight(value) > MAX_LENGTH:
            _over(f"it made a text or list of more than {MAX_LENGTH:,} characters or items (nested items "
                  "counted), the most a template may make; make it shorter")
    return value


def _count_arg(value: Any, what: str, limit: int = MAX_LENGTH) -> None:
    """Refuse a width, count or length argument (`what`, e.g. "a width") above `limit`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if value > limit:
        shown = f"{value:,.0f}" if value < 1e30 else "far more than that"
        _over(f"it asks for {what} of {shown}; a template may use at most {limit:,} (see the template limits in "
              "the README)")


_PRINTF = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.?)", re.S)


def _check_printf(fmt: Any, args: Any) -> None:
    """`fmt % args` must not ask for huge widths (`%1000000000s`, `'%*s' % (10**9, 'x')`) nor repeat a big value
    into a huge text; estimated from the format before Python allocates anything."""
    if isinstance(fmt, (bytes, bytearray)):
        fmt = fmt.decode("latin-1")
    if not isinstance(fmt, str):
        return
    mapping = args if isinstance(args, dict) else None
    positional = list(args) if isinstance(args, tuple) else [args]
    index = 0
    estimate = len(fmt)
    for match in _PRINTF.finditer(fmt):
        key, width, precision, conversion = match.groups()
        if conversion == "%" and key is None and not width and not precision:
            continue
        for part in (width, precision):
            if part == "*":
                amount = positional[index] if index < len(positional) else 0
                index += 1
            elif part:
                amount = int(part) if len(part) <= 12 else 10**12
            else:
                continue
            _count_arg(amount, "a %-format width")
            if isinstance(amount, int) and not isinstance(amount, bool):
                estimate += max(0, amount)
        if key is not None and mapping is not None:
            value = mapping.get(key)
        else:
            value = positional[index] if index < len(positional) else None
            index += 1
        estimate += _weight(value)
        if estimate > MAX_LENGTH:
            _too_big(estimate, "formatted text")


_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?[a-zA-Z%]?", re.S)


def _check_format_spec(spec: str) -> None:
    match = _FORMAT_SPEC.fullmatch(spec)
    if match is None:
        return  # not a spec Python accepts either: format() raises and says why
    for part in match.groups():
        if part:
            _count_arg(int(part) if len(part) <= 12 else 10**12, "a format width or precision")


class _BoundedFormatter(SandboxedFormatter):
    """`'{:>1000000000}'.format(1)`: each field's width checked before it is padded, and the total kept."""

    def vformat(self, format_string, args, kwargs):  # type: ignore[override]
        self._made = 0
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        _tick()
        _check_format_spec(format_spec)
        text = super().format_field(value, format_spec)
        self._made = getattr(self, "_made", 0) + len(text)
        if self._made > MAX_LENGTH:
            _too_big(self._made, "formatted text")
        return text


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


def _pre_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for count, sequence in ((left, right), (right, left)):
            if isinstance(count, int) and not isinstance(count, bool) and isinstance(sequence, (*_TEXT, list, tuple)):
                if count > 0 and _weight(sequence) * count > MAX_LENGTH:
                    _too_big(_weight(sequence) * count, "list" if isinstance(sequence, (list, tuple)) else "text")
    elif operator == "**":
        numbers = (int, float)
        if isinstance(left, numbers) and isinstance(right, numbers) and right > 0:
            base = abs(left)
            if base > 1 and right * math.log10(base) > 15:
                _too_large_number(f"a number of about 10^{right * math.log10(base):,.0f}")
    elif operator == "%" and isinstance(left, (*_TEXT, Markup)):
        _check_printf(left, right)


# -- filters, functions and methods that make big things from small arguments ----------------------------------


def _pre_center(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> None:
    _count_arg(width, "a width")


def _pre_indent(s: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    lines = str(s).count("\n") + 1
    unit = len(width) if isinstance(width, str) else width
    if isinstance(unit, (int, float)) and unit * lines + len(str(s)) > MAX_LENGTH:
        _too_big(unit * lines + len(str(s)), "indented text")


def _pre_batch(value: Any, linecount: Any = 1, *args: Any, **kwargs: Any) -> None:
    _count_arg(linecount, "a batch size")


def _pre_slice(value: Any, slices: Any = 1, *args: Any, **kwargs: Any) -> None:
    _count_arg(slices, "a number of slices")


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_printf(str(value), kwargs or args)


def _pre_replace(s: Any, old: Any = "", new: Any = "", count: Any = None, *args: Any, **kwargs: Any) -> None:
    if isinstance(s, (*_TEXT,)) or isinstance(old, str):
        text, old_text, new_text = str(s), str(old), str(new)
        hits = text.count(old_text)
        if isinstance(count, int) and 0 <= count < hits:
            hits = count
        size = len(text) + hits * (len(new_text) - len(old_text))
        if size > MAX_LENGTH:
            _too_big(size, "text")


def _pre_wordwrap(s: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
                  *args: Any, **kwargs: Any) -> None:
    text = str(s)
    if isinstance(width, int) and width > 0:
        size = len(text) + (len(text) // width + 1) * len(str(wrapstring or "\n"))
        if size > MAX_LENGTH:
            _too_big(size, "wrapped text")


def _pre_tojson(value: Any, indent: Any = None, *args: Any, **kwargs: Any) -> None:
    _count_arg(len(indent) if isinstance(indent, str) else indent, "a JSON indent", 16)


def _pre_urlize(value: Any, trim_url_limit: Any = None, nofollow: Any = False, target: Any = None, rel: Any = None,
                *args: Any, **kwargs: Any) -> None:
    words = len(str(value).split()) + 1
    extra = len(str(target or "")) + len(str(rel or ""))
    if words * extra > MAX_LENGTH:
        _too_big(words * extra, "text")


_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "batch": _pre_batch,
    "slice": _pre_slice,
    "format": _pre_format,
    "replace": _pre_replace,
    "wordwrap": _pre_wordwrap,
    "tojson": _pre_tojson,
    "urlize": _pre_urlize,
}


def _bounded_items(iterable: Any) -> list:
    items = list(islice(iter(iterable), MAX_LENGTH + 1))
    if len(items) > MAX_LENGTH:
        _too_big(MAX_LENGTH + 1, "list")
    return items


def _pre_join(items: list, separator: Any) -> None:
    size = len(str(separator)) * max(0, len(items) - 1)
    for item in items:
        size += _weight(item)
        if size > MAX_LENGTH:
            _too_big(size, "joined text")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _FILTER_CHECKS.get(name)
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # the context/environment argument

    if name == "join":
        @functools.wraps(func)
        def guarded_join(*args: Any, **kwargs: Any) -> Any:
            _tick()
            args = list(args)
            args[skip] = _bounded_items(args[skip])
            if kwargs.get("attribute") is None and len(args) <= skip + 2:
                _pre_join(args[skip], args[skip + 1] if len(args) > skip + 1 else kwargs.get("d", ""))
            return _check(func(*args, **kwargs))
        return guarded_join

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if check is not None:
            check(*args[skip:], **kwargs)
        return _check(func(*args, **kwargs))

    return guarded


def _bounded_range(*args: Any) -> range:
    numbers = range(*args)
    try:
        count: float = len(numbers)
    except OverflowError:
        count = math.inf
    if count > MAX_LENGTH:
        _too_big(count, "range")
    return numbers


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    for value in (n, min, max):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("lipsum() takes whole numbers")
    words = n * (max if max > min else min)
    if words * 8 > MAX_LENGTH:
        _too_big(words * 8, "lorem ipsum text")
    return generate_lorem_ipsum(n, html, min, max)


def _pre_method(receiver: Any, name: str, args: tuple, kwargs: dict) -> tuple:
    """Checks for the methods of built-in values that can make a big result from small arguments; returns the
    arguments to call with (an iterator given to `join` is read here, once)."""
    if isinstance(receiver, _TEXT):
        first = args[0] if args else None
        if name in ("center", "ljust", "rjust", "zfill"):
            _count_arg(first if args else kwargs.get("width"), "a width")
        elif name == "expandtabs":
            size = first if args else kwargs.get("tabsize", 8)
            if isinstance(size, int) and size * receiver.count("\t" if isinstance(receiver, str) else b"\t") > MAX_LENGTH:
                _too_big(size * receiver.count("\t"), "text")
        elif name == "replace" and len(args) >= 2:
            _pre_replace(receiver, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
        elif name == "join" and args:
            items = _bounded_items(first)
            _pre_join(items, receiver)
            args = (items, *args[1:])
        elif name == "translate" and isinstance(first, dict):
            longest = max((len(v) for v in first.values() if isinstance(v, _TEXT)), default=1)
            if longest * len(receiver) > MAX_LENGTH:
                _too_big(longest * len(receiver), "text")
    elif isinstance(receiver, int) and name == "to_bytes":
        _count_arg(args[0] if args else kwargs.get("length"), "a length")
    return args


# -- the environment ------------------------------------------------------------------------------------------


_HOOK = "frontline-budget-"
"""Prefix of the filters the budget adds to compiled templates: a name with '-' cannot be written in a template."""


def _guard(hook: str, node: nodes.Expr) -> nodes.Expr:
    """`node` passed through the filter `frontline-budget-<hook>`: a check the sandbox has no hook for. A
    filter compiles to a direct call; taking the context keeps Jinja from running it at compile time."""
    return nodes.Filter(node, _HOOK + hook, [], [], None, None, lineno=node.lineno)


class _Budgeter(NodeTransformer):
    """Wraps each loop's iterable, each piece of output, each `~` and each list, tuple or dict literal in a
    budget filter, so that no loop, repetition or concatenation in a template escapes the budget."""

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [_guard("out", child) for child in node.nodes]
        return node

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guard("iter", node.iter)
        return node

    def _sized(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return _guard("size", node)

    visit_Concat = visit_List = visit_Dict = _sized

    def visit_Const(self, node: nodes.Const) -> nodes.Node:
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value) or abs(value) > MAX_NUMBER:
                raise TemplateSyntaxError("it holds a number beyond ±10^15, the largest a template may use",
                                          node.lineno)
        return node

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        return self._sized(node) if node.ctx == "load" else self.generic_visit(node)


@pass_context
def _budget_iter(context: Any, iterable: Any):
    budget = _active.get()
    for item in iterable:
        if budget is not None:
            budget.iterations += 1
            if budget.iterations > MAX_ITERATIONS:
                _over(f"its loops turned more than {MAX_ITERATIONS:,} times in one go (the limit); loop over "
                      "fewer items")
            _tick()
        yield item


@pass_context
def _budget_out(context: Any, value: Any) -> str:
    text = str(value)
    budget = _active.get()
    if budget is not None:
        budget.output += len(text)
        if budget.output > MAX_OUTPUT:
            _over(f"it wrote more than {MAX_OUTPUT:,} characters in one go (the limit); write less")
        _tick()
    return text


@pass_context
def _budget_size(context: Any, value: Any) -> Any:
    _tick()
    return _check(value)


class _BudgetedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(SandboxedEnvironment.default_binop_table)

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum
        self.filters.update({_HOOK + "iter": _budget_iter, _HOOK + "out": _budget_out, _HOOK + "size": _budget_size})

    def _generate(self, source, name, filename, defer_init=False):  # type: ignore[override]
        return super()._generate(_Budgeter().visit(source), name, filename, defer_init)

    # the sandbox's own hooks

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _pre_binop(operator, left, right)
        return _check(self.binop_table[operator](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        receiver = getattr(__obj, "__self__", None)
        if receiver is not None and isinstance(__obj, (types.BuiltinMethodType, types.MethodType)):
            args = _pre_method(receiver, __obj.__name__, args, kwargs)
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(receiver, (list, dict, set)):  # grown in place by append, extend, update, …
            _check(receiver)
        return _check(result)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """As the sandbox's own, with a formatter that checks each field's width before padding."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
                "format", "format_map"):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        kind = type(owner)
        is_format_map = value.__name__ == "format_map"
        formatter = (_BoundedEscapeFormatter(self, escape=owner.escape) if isinstance(owner, Markup)
                     else _BoundedFormatter(self))

        def wrapper(*args: Any, **kwargs: Any) -> str:
            _tick()
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return _check(kind(formatter.vformat(owner, args, kwargs)))

        return functools.update_wrapper(wrapper, value)


_env = _BudgetedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, optimized=False)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _OverBudget):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "it calls itself too deeply (a macro or recursive loop with no end); make it simpler"
    if isinstance(exc, TemplateError) and getattr(exc, "message", None):
        return str(exc.message)
    if isinstance(exc, SyntaxError) and "nested" in str(exc):
        return "it nests blocks too deeply; make it simpler"
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return "it holds a number too long to read; write a shorter one"
    return f"{type(exc).__name__}: {exc}"


def _run(kind: str, work: Callable[[], Any]) -> Any:
    """`work()` on a fresh budget; a failure or a breach becomes a TemplateProblem "{kind} failed: why"."""
    budget = _Budget(deadline=time.thread_time() + TIME_LIMIT)
    token = _active.set(budget)
    try:
        result = work()
    except Exception as exc:  # the sandbox raises SecurityError, UndefinedError, TypeError, …
        reason = budget.breach or _describe(exc)
        raise TemplateProblem(f"{kind} failed: {reason}", reason) from None
    finally:
        _active.reset(token)
    if budget.breach is not None:  # something caught the breach and went on: the result is not to be used
        raise TemplateProblem(f"{kind} failed: {budget.breach}", budget.breach)
    return result


@lru_cache(maxsize=2048)
def _template(source: str):
    try:
        return _env.from_string(source)
    except Exception as exc:  # TemplateSyntaxError, and RecursionError or SyntaxError for absurd nesting
        reason = _describe(exc)
        raise TemplateProblem(f"template syntax error: {reason}", reason) from None


@lru_cache(maxsize=2048)
def compile_condition(source: str) -> Callable[..., Any]:
    try:
        return _env.compile_expression(source, undefined_to_none=False)
    except Exception as exc:
        reason = _describe(exc)
        raise TemplateProblem(f"condition syntax error: {reason}", reason) from None


def render_line(source: str, context: dict[str, Any]) -> str:
    template = _template(source)
    text = _run("template", lambda: template.render(**context))
    if len(text) > MAX_LENGTH:
        reason = (f"the line is {len(text):,} characters long; a line may be at most {MAX_LENGTH:,}, so make "
                  "it shorter")
        raise TemplateProblem(f"template failed: {reason}", reason)
    return text


def evaluate_condition(source: str, context: dict[str, Any]) -> bool:
    expression = compile_condition(source)
    return _run("condition", lambda: bool(expression(**context)))


def _parse(source: str, kind: str):
    try:
        return _env.parse(source)
    except Exception as exc:
        reason = _describe(exc)
        raise TemplateProblem(f"{kind} syntax error: {reason}", reason) from None


def template_names(source: str) -> set[str]:
    """Top-level names a template reads (for "variable not declared" checks)."""
    from jinja2 import meta

    return set(meta.find_undeclared_variables(_parse(source, "template")))


def condition_names(source: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Names a condition reads, and the (name, attribute) pairs like ("scores", "empathy") it looks up."""
    names, lookups, _ = condition_reads(source)
    return names, lookups


def condition_reads(source: str) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """As condition_names, plus the names also read other than as `name.attribute` or `name['key']` (for
    example `scores|length` or `scores[x]`): all of their keys matter."""
    tree = _parse("{{ " + source + " }}", "condition")
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    lookups: set[tuple[str, str]] = set()
    looked_up: set[int] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            lookups.add((node.node.name, node.attr))
            looked_up.add(id(node.node))
    for node in tree.find_all(nodes.Getitem):
        if isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            lookups.add((node.node.name, node.arg.value))
            looked_up.add(id(node.node))
    whole = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load" and id(n) not in looked_up}
    return names, lookups, whole
