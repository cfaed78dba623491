"""The beat graph of a scenario, and three ways to draw it: text for the terminal, Mermaid and Graphviz dot.

Pure: it takes a `Scenario` and returns strings; `frontline graph` prints them. Every beat, every transition with
its condition ("always" when it has no `when:`), every ending with its kind, and the two edges every beat has
without saying so: patience running out (`on_patience_out`) and the turn limit (`on_turn_limit`). A beat without
an always-transition also has an edge to itself: when no condition holds the customer stays and says another of
its lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulator.content.scenario import LineVariant, Scenario

FORMATS = ("text", "mermaid", "dot")


@dataclass(frozen=True)
class Edge:
    source: str
    """A beat id."""
    target: str
    """A beat id, or an ending id when `ends` is true."""
    ends: bool
    condition: str | None
    """The transition's `when:`; None means always."""


@dataclass(frozen=True)
class Graph:
    scenario: Scenario
    edges: tuple[Edge, ...]
    stays: tuple[str, ...]
    """Beats with no always-transition: when no condition holds, the customer stays on them."""

    @property
    def opening(self) -> str:
        return self.scenario.beats[0].id

    def edges_from(self, beat_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == beat_id]


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def build_graph(scenario: Scenario) -> Graph:
    edges: list[Edge] = []
    stays: list[str] = []
    for beat in scenario.beats:
        for t in beat.transitions:
            target = t.to if t.to is not None else t.end
            assert target is not None
            edges.append(Edge(beat.id, target, t.end is not None, _one_line(t.when) if t.when is not None else None))
        if not any(t.when is None for t in beat.transitions):
            stays.append(beat.id)
    return Graph(scenario, tuple(edges), tuple(stays))


def first_line(scenario: Scenario, beat_id: str) -> str:
    line = scenario.beat(beat_id).lines[0]
    return _one_line(line.text if isinstance(line, LineVariant) else line)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# -- text ----------------------------------------------------------------------------------------------------------


def to_text(graph: Graph) -> str:
    s = graph.scenario
    kinds = {e.id: e.kind.value for e in s.endings}

    def target(edge_ends: bool, target_id: str) -> str:
        return f"end {target_id} ({kinds[target_id]})" if edge_ends else f"beat {target_id}"

    out = [f"{s.id}: {s.title}",
           f"rubric {s.rubric}, turn limit {s.turn_limit}, patience {s.persona.patience} (at medium)", ""]
    width = max([len("always")] + [len(e.condition or "") + 3 for e in graph.edges])
    width = min(width, 56)
    for beat in s.beats:
        mark = "  <- the customer opens here" if beat.id == graph.opening else ""
        out.append(f"beat {beat.id}{mark}")
        out.append(f'    says: "{_short(first_line(s, beat.id))}"'
                   + (f" (+{len(beat.lines) - 1} more)" if len(beat.lines) > 1 else ""))
        for edge in graph.edges_from(beat.id):
            label = f"if {edge.condition}" if edge.condition is not None else "always"
            out.append(f"    {label:<{width}} -> {target(edge.ends, edge.target)}")
        if beat.id in graph.stays:
            out.append(f"    {'otherwise':<{width}} -> stays on {beat.id} (says another of its lines)")
        out.append("")
    out.append("from any beat")
    out.append(f"    {'patience runs out':<{width}} -> {target(True, s.on_patience_out)}")
    out.append(f"    {f'turn limit ({s.turn_limit} replies)':<{width}} -> {target(True, s.on_turn_limit)}")
    out.append("")
    out.append("endings")
    id_width = max(len(e.id) for e in s.endings)
    kind_width = max(len(e.kind.value) for e in s.endings)
    for ending in s.endings:
        out.append(f'    {ending.id:<{id_width}}  {ending.kind.value:<{kind_width}}  "{_short(_one_line(ending.line))}"')
    return "\n".join(out) + "\n"


# -- Mermaid -------------------------------------------------------------------------------------------------------

# Inside a quoted Mermaid label these would end the label, open a shape or start an entity: written as entity
# codes (#34; for ", …), which Mermaid turns back into the characters when it draws.
_MERMAID_ESCAPES = {ch: f"#{ord(ch)};" for ch in '"#<>[]{}|`'}


def mermaid_label(text: str) -> str:
    return '"' + "".join(_MERMAID_ESCAPES.get(ch, ch) for ch in _one_line(text)) + '"'


def _mermaid_id(kind: str, ident: str) -> str:
    # Prefixed: a beat and an ending may share an id, and `end` is a Mermaid keyword.
    return f"{kind}_{ident}"


def to_mermaid(graph: Graph) -> str:
    s = graph.scenario
    out = ["flowchart TD"]
    out.append(f'    start(({mermaid_label("start")}))')
    out.append(f'    start --> {_mermaid_id("beat", graph.opening)}')
    for beat in s.beats:
        out.append(f"    {_mermaid_id('beat', beat.id)}[{mermaid_label(beat.id)}]")
    for ending in s.endings:
        out.append(f"    {_mermaid_id('end', ending.id)}([{mermaid_label(f'{ending.id} ({ending.kind.value})')}])")
    for edge in graph.edges:
        label = mermaid_label(edge.condition if edge.condition is not None else "always")
        dst = _mermaid_id("end" if edge.ends else "beat", edge.target)
        out.append(f"    {_mermaid_id('beat', edge.source)} -->|{label}| {dst}")
    for beat_id in graph.stays:
        out.append(f"    {_mermaid_id('beat', beat_id)} -.->|{mermaid_label('otherwise: stays')}| "
                   f"{_mermaid_id('beat', beat_id)}")
    out.append(f'    anybeat{{{{{mermaid_label("any beat")}}}}}')
    out.append(f"    anybeat -.->|{mermaid_label('patience runs out')}| {_mermaid_id('end', s.on_patience_out)}")
    out.append(f"    anybeat -.->|{mermaid_label(f'turn limit ({s.turn_limit})')}| "
               f"{_mermaid_id('end', s.on_turn_limit)}")
    out.append("    classDef resolved fill:#d8f0d8,stroke:#2e7d32")
    out.append("    classDef walked_out fill:#f8d7da,stroke:#b71c1c")
    out.append("    classDef escalated fill:#fff3cd,stroke:#e65100")
    for kind in ("resolved", "walked_out", "escalated"):
        ids = [_mermaid_id("end", e.id) for e in s.endings if e.kind.value == kind]
        if ids:
            out.append(f"    class {','.join(ids)} {kind}")
    return "\n".join(out) + "\n"


# -- Graphviz dot --------------------------------------------------------------------------------------------------


def dot_quote(text: str) -> str:
    return '"' + _one_line(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


_DOT_COLOURS = {"resolved": "#d8f0d8", "walked_out": "#f8d7da", "escalated": "#fff3cd"}


def to_dot(graph: Graph) -> str:
    s = graph.scenario
    beat = lambda i: dot_quote(f"beat:{i}")  # noqa: E731
    end = lambda i: dot_quote(f"end:{i}")  # noqa: E731
    out = [f"digraph {dot_quote(s.id)} {{",
           "    rankdir=TB;",
           '    node [fontname="Helvetica"];',
           '    edge [fontname="Helvetica", fontsize=10];',
           '    "start" [label="start", shape=circle];',
           f"    \"start\" -> {beat(graph.opening)};"]
    for b in s.beats:
        out.append(f"    {beat(b.id)} [label={dot_quote(b.id)}, shape=box];")
    for e in s.endings:
        out.append(f"    {end(e.id)} [label={dot_quote(f'{e.id} ({e.kind.value})')}, shape=box, style=\"rounded,filled\", "
                   f"fillcolor={dot_quote(_DOT_COLOURS[e.kind.value])}];")
    for edge in graph.edges:
        dst = end(edge.target) if edge.ends else beat(edge.target)
        out.append(f"    {beat(edge.source)} -> {dst} [label={dot_quote(edge.condition or 'always')}];")
    for beat_id in graph.stays:
        out.append(f"    {beat(beat_id)} -> {beat(beat_id)} [label=\"otherwise: stays\", style=dashed];")
    out.append('    "any beat" [shape=hexagon];')
    out.append(f'    "any beat" -> {end(s.on_patience_out)} [label="patience runs out", style=dashed];')
    out.append(f'    "any beat" -> {end(s.on_turn_limit)} [label={dot_quote(f"turn limit ({s.turn_limit})")}, '
               "style=dashed];")
    out.append("}")
    return "\n".join(out) + "\n"


def render(graph: Graph, fmt: str) -> str:
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    return to_text(graph)
