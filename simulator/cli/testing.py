"""`frontline test`: a scenario's own tests (cases, trainee profiles, exploration of the beat graph).

Exit 0 when every check passes, 1 when any fails (one `FILE:LINE: message` per problem on stdout), 2 on bad
input (a broken scenario or `tests:` section, as FILE:LINE:COL, before anything is played). The summary line
goes to stderr, like `validate`'s.
"""

from __future__ import annotations

import argparse
import time

from simulator.errors import EXIT_FAILED, EXIT_OK
from simulator.services import Services
from simulator.terminal import clean


def _budget(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the budget is a whole number of replies, not {text!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"the budget must be between 1 and 1000000, not {text}")
    return value


def cmd_test(args, services: Services) -> int:
    from simulator.studio.suite import Parts, Suite

    started = time.perf_counter()
    suite = Suite(args.library)
    targets = suite.collect(args.targets)
    parts = Parts(cases=not args.no_cases, profiles=not args.no_profiles, explore=not args.no_explore,
                  budget=args.budget)
    outcome = suite.run(targets, parts=parts, scorer=services.make_scorer)
    for failure in outcome.failures:
        services.stdout.write(clean(str(failure), one_line=True) + "\n")
    for known in outcome.known:
        services.stdout.write(clean(str(known), one_line=True) + "\n")
    services.stderr.write(f"{outcome.summary()} ({time.perf_counter() - started:.1f} s)\n")
    return EXIT_FAILED if outcome.failed else EXIT_OK


def register(sub) -> None:
    from simulator.studio.explore import DEFAULT_BUDGET

    p = sub.add_parser(
        "test", help="run scenarios' own tests: scripted cases, trainee profiles, exploration of the beat graph",
        description="Run each scenario's `tests:` (scripted replies scored by the real model, which must reach "
                    "their ending), the trainee profiles (fixed scores at every difficulty) and a search of the "
                    "beat graph for unreachable endings, trap beats and failing templates. Exit 0: all pass; "
                    "1: some failed (FILE:LINE: message each); 2: bad input.")
    p.add_argument("targets", nargs="*", metavar="SCENARIO|DIR",
                   help="scenario ids, files or folders (default: the shipped scenarios)")
    p.add_argument("--no-cases", action="store_true", help="skip the scripted cases (no model is loaded)")
    p.add_argument("--no-profiles", action="store_true", help="skip the trainee profiles")
    p.add_argument("--no-explore", action="store_true", help="skip the exploration of the beat graph")
    p.add_argument("--budget", type=_budget, default=DEFAULT_BUDGET, metavar="N",
                   help=f"replies the exploration tries per scenario and difficulty (default {DEFAULT_BUDGET})")
    p.set_defaults(handler=cmd_test)
