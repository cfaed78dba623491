"""`frontline play`: on screen (the trainee app), or headless with `--replies FILE`.

Both drive one `PracticeSession`; headless, every reply is checked before the session starts, so a bad file
stores nothing.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from simulator.cli.inputs import decode_utf8, read_stdin
from simulator.content.scenario import DIFFICULTIES, MODES
from simulator.errors import EXIT_OK, StoreError, UsageError
from simulator.services import Services
from simulator.session import NO_SAVE, PracticeSession, StoreLink, check_reply, trainee_name
from simulator.terminal import clean

MAX_SEED = 2**63 - 1
"""Seeds are stored as 64-bit integers on every back-end."""


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the seed is a whole number, not {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"the seed must be between 0 and {MAX_SEED}, not {text}")
    return value


def split_replies(text: str) -> list[str]:
    """One reply per line. Only a newline ends a line: a form feed, U+2028 or other separators a reply
    happens to contain stay inside it."""
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def read_replies(source: str, services: Services) -> list[str]:
    if source == "-":
        text = read_stdin(services.stdin)
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read replies file {source}: {exc.strerror or exc}") from None
        text = decode_utf8(raw, source)
    replies = split_replies(text)
    if not replies:
        raise UsageError(f"{source}: no replies in the file (one reply per line)")
    for number, reply in enumerate(replies, 1):
        try:
            check_reply(reply)
        except UsageError as exc:
            raise UsageError(f"{source}: reply {number}: {exc}") from None
    return replies


def cmd_play(args, services: Services) -> int:
    library = args.library
    loaded = library.find_scenario(args.scenario)
    if args.watch:
        if args.replies is not None:
            raise UsageError("--watch plays on screen while you edit; leave out --replies")
        from simulator.tui.launch import run_play

        # A file with problems still opens: the app shows them and starts once the file is fixed.
        return run_play(args, services, scenario_id=str(loaded.path))
    scenario = library.require(loaded)
    rubric = library.rubric_for(loaded)
    if args.replies is None:
        from simulator.tui.launch import run_play  # imports textual only now

        return run_play(args, services, scenario_id=scenario.id)
    replies = read_replies(args.replies, services)
    scorer = services.make_scorer()
    link = NO_SAVE if args.no_save else StoreLink(services.open_store)
    if args.resume:  # the last unfinished session, rebuilt; the replies continue it
        reader = StoreLink(services.open_store)
        session = PracticeSession.resume(scenario, rubric, trainee=args.trainee, content_hash=loaded.content_hash,
                                         scorer=scorer, link=reader)
        if session is None:
            reader.close()
            raise StoreError(f"{trainee_name(args.trainee)} has no unfinished session of {scenario.id} to resume; "
                             f"start one with `frontline play {scenario.id}`")
        if args.no_save:
            session.link = NO_SAVE
            reader.close()
        link = session.link
        services.stderr.write(f"frontline: resuming session {session.session_id} after turn {len(session.turns)} "
                              f"(seed {session.conversation.seed}, difficulty "
                              f"{session.conversation.difficulty.value})\n")
    else:
        session = PracticeSession.start(scenario, rubric, trainee=args.trainee, seed=args.seed,
                                        difficulty=args.difficulty, mode=args.mode or "practice",
                                        content_hash=loaded.content_hash, scorer=scorer, link=link)
    try:
        used = 0
        for reply in replies:
            if session.finished:
                break
            session.submit(reply)
            used += 1
    finally:
        link.close()
    unused = len(replies) - used
    if args.json:
        _print_json(session, unused, services.stdout)
    else:
        _print_transcript(session, unused, services.stdout)
    return EXIT_OK


def _print_transcript(session: PracticeSession, unused: int, out: TextIO) -> None:
    conversation = session.conversation
    s = conversation.scenario
    name = s.persona.name
    lines = [f"{s.title} — {s.setting.business} (difficulty {conversation.difficulty.value}, "
             f"seed {conversation.seed})", "", f"{name}: {conversation.opening}"]
    for turn in conversation.turns:
        lines += ["", f"You: {turn.reply}"]
        parts = [f"{cid} {turn.scores[cid]:.2f} (level {turn.levels[cid]})" for cid in turn.scores]
        lines.append(f"  scores: {', '.join(parts)}; overall {turn.overall:.2f}")
        for cid, spans in turn.evidence.items():
            if spans:
                lines.append(f"  {cid} because: " + " | ".join(f'"{span}"' for span in spans))
        if turn.red_flags:
            lines.append(f"  red flags: {', '.join(turn.red_flags)}")
        if turn.goals_met:
            lines.append(f"  goals met: {', '.join(turn.goals_met)}")
        lines.append(f"  mood {turn.mood_before:.0f} -> {turn.mood_after:.0f}, patience {turn.patience_after}")
        lines += ["", f"{name}: {turn.customer_reaction}"]
    lines.append("")
    if conversation.finished:
        r = conversation.result()
        verdict = "PASS" if r.passed else "FAIL"
        lines.append(f"Ending: {r.ending} ({r.ending_kind}) — {r.ending_summary}")
        lines.append(f"Result: {verdict}, overall {r.overall:.2f} against pass mark {r.pass_mark:.2f}")
        lines += [f"  {cid}: {avg:.2f}" for cid, avg in r.averages.items()]
    else:
        lines.append(f"Not finished: the replies ran out at turn {len(conversation.turns)}; "
                     f"{name} is waiting for your next reply.")
    if unused:
        lines.append(f"({unused} reply line(s) not used: the conversation had already ended)")
    # Every line may hold a trainee's or an author's text: one newline per line, nothing else let through.
    out.write("".join(clean(line, one_line=True) + "\n" for line in lines))


def _print_json(session: PracticeSession, unused: int, out: TextIO) -> None:
    conversation = session.conversation
    doc = {
        "scenario": conversation.scenario.id,
        "seed": conversation.seed,
        "difficulty": conversation.difficulty.value,
        "opening": conversation.opening,
        "turns": [t.to_dict() for t in conversation.turns],
        "finished": conversation.finished,
        "result": asdict(conversation.result()) if conversation.finished else None,
        "unused_replies": unused,
        "session_id": session.session_id,
    }
    json.dump(doc, out, indent=2, ensure_ascii=True)  # escapes, so no control character reaches the terminal
    out.write("\n")


def add_session_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """Options of a practice session: for the picker (`frontline --trainee sam`) and for `play`. Given after
    `play`, they win over the same options given before it."""
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument("--trainee", default=default,
                        help="your name, for your progress record (default: your login name)")
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default=default, help="default: the scenario's own")
    parser.add_argument("--mode", choices=MODES, default=default,
                        help="test mode holds feedback back until the debrief (default: practice)")


def register(sub) -> None:
    p = sub.add_parser("play", help="play a scenario (interactive, or with --replies FILE)")
    p.add_argument("scenario", help="scenario id (see `frontline list`) or path to a scenario file")
    p.add_argument("--replies", metavar="FILE", help="play without a screen: one reply per line ('-' = stdin)")
    p.add_argument("--json", action="store_true", help="with --replies: print the transcript as JSON")
    p.add_argument("--seed", type=seed, default=0, help="seed for the customer's line variants (default 0)")
    add_session_options(p, top_level=False)
    p.add_argument("--no-save", action="store_true", help="do not store this session")
    p.add_argument("--resume", action="store_true", help="continue your last unfinished session of SCENARIO")
    p.add_argument("--watch", action="store_true",
                   help="play while you write: reload SCENARIO on every save and replay your replies on it "
                        "(nothing is stored)")
    p.set_defaults(handler=cmd_play)
