"""Commented starter files for `frontline new scenario|rubric`: valid, warning-free and playable as written.

Pure text: the command decides where the file goes and writes it. Every key is in the starter with a comment
saying what it does, so a manager learns the format by editing a file that already works.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
RUBRIC_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 64

SCHEMA_FILES = {"scenario": "scenario.schema.json", "rubric": "rubric.schema.json"}


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` cannot be the id (and file name) of a new `kind` ("scenario" or "rubric"), or None."""
    pattern, allowed = ((SCENARIO_NAME, "lower-case letters, digits, '-' and '_'") if kind == "scenario"
                        else (RUBRIC_NAME, "lower-case letters, digits and '_' (no '-': conditions name rubric "
                                           "criteria, and ids must be plain words)"))
    if "/" in name or "\\" in name:
        return f"{name!r} is a path; give just a name, and the folder with --dir"
    if len(name) > MAX_NAME:
        return f"the {kind} name is {len(name)} characters long; use at most {MAX_NAME}"
    if pattern.match(name):
        return None
    hint = suggest_name(kind, name)
    suggestion = f" (e.g. {hint!r})" if hint and pattern.match(hint) else ""
    return f"{name!r} cannot be a {kind} name: use {allowed}, starting with a letter{suggestion}"


def suggest_name(kind: str, name: str) -> str:
    sep = "-" if kind == "scenario" else "_"
    slug = re.sub(r"[^a-z0-9]+", sep, name.lower()).strip("-_")
    slug = re.sub(r"^[^a-z]+", "", slug)
    return slug[:MAX_NAME]


def schema_ref(folder: Path, schema_file: Path) -> str:
    """What to put after `$schema=` in a file written into `folder`: a relative path to `schema_file` (which
    keeps working when the checkout moves), or a `file://` URI where no relative path exists (another drive)."""
    try:
        return Path(os.path.relpath(schema_file.resolve(), folder.resolve())).as_posix()
    except ValueError:
        return schema_file.resolve().as_uri()


def scenario_text(name: str, schema: str, rubric: str = "service", criterion: str = "empathy") -> str:
    """A starter scenario `name`, scored with `rubric`, whose conditions read the rubric's `criterion`."""
    return (_SCENARIO.replace("@SCHEMA@", schema).replace("@ID@", name).replace("@RUBRIC@", rubric)
            .replace("@CRITERION@", criterion))


def rubric_text(name: str, schema: str) -> str:
    return _RUBRIC.replace("@SCHEMA@", schema).replace("@ID@", name)


# The starter scenario. Kept valid, warning-free and playable by tests/unit/test_authoring.py.
_SCENARIO = """\
# yaml-language-server: $schema=@SCHEMA@
# A starter scenario: it validates and plays as it is. Change the words, keep the shape, and run
#   frontline validate THIS_FILE      (every problem, with its line and column)
#   frontline graph THIS_FILE         (the beats and where each reply can lead)
#   frontline play THIS_FILE          (play it yourself)
#
# TEMPLATES: the customer's lines (`lines`), model replies and ending lines are templates: {{ name }} is
# replaced by a value. Names: your `variables`, plus customer, trainee, mood, patience, turn, difficulty.
# Everything else (title, summary, setting, backstory, traits, goals, summaries) is shown exactly as written.

id: @ID@                      # stable; used on the command line: frontline play @ID@
title: The parcel that never came            # shown in the scenario picker
summary: A regular customer's order is a week late and nobody has called her back.   # one line in the picker
setting:
  business: Brightside Kitchens, an online kitchenware shop     # where this happens
  role: Customer service advisor on the phone                   # who the trainee plays
persona:                      # the customer
  name: Priya                 # shown beside her lines
  mood: 30                    # how she starts: 0 furious ... 100 calm
  patience: 4                 # poor replies she takes (at medium difficulty) before she gives up
  backstory: >-
    Priya ordered a stand mixer for her daughter's birthday on Saturday. It was due four days ago; the tracking
    page has said "preparing" all week and her email to the shop went unanswered.
  # ^ the trainee's brief, shown as written (not a template)
  traits: [organised, polite but firm, short of time]   # a few words on how she talks
difficulty: medium            # easy | medium | hard: the default; the trainee can pick another
rubric: @RUBRIC@                # id of the rubric replies are scored with
pass_mark: 0.6                # average score (0-1) to pass; leave out to use the rubric's pass_threshold
turn_limit: 8                 # most replies before the session ends with on_turn_limit

variables:                    # values her lines can use as {{ order_number }} and {{ gift_day }}
  order_number: BK-48213
  gift_day: Saturday

goals:                        # the trainee's checklist
  - id: own_the_delay         # stable; conditions read it as goals.own_the_delay (true once met)
    description: Own the delay and apologise for the silence     # shown on the checklist
    examples:                 # a reply close in MEANING to one of these meets the goal (judged by the model)
      - "I'm sorry, we should have told you the mixer was delayed, and nobody answered your email. That's on us."
      - "You should never have had to chase us for this. I'm sorry we left you waiting without a word."
  - id: firm_next_step
    description: Give a concrete next step with a time
    examples:
      - "I'll send a replacement by express courier today, so it reaches you on Friday; I'll text you the tracking by five."
      - "I'm booking next-day delivery now and I'll call you back at four to confirm it's on the van."

beats:                        # the conversation's steps; the FIRST beat is the customer's opening
  - id: opening               # stable; transitions name it in `to:`
    lines:                    # what she says on arriving here; one is picked with the session's seed
      - "Hi. My order {{ order_number }} was due four days ago and the tracking still says 'preparing'."
      - "I'm calling about order {{ order_number }}. It's four days late and nobody answered my email."
      - text: "Order {{ order_number }}. Four days late. Again. What is going on?"
        difficulties: [hard]  # a line only said at these difficulties
    model_replies:            # good replies, shown in the debrief as "a better reply would have been..."
      - "Four days late with no word from us isn't good enough, I'm sorry. Let me look at {{ order_number }} right now."
    transitions:              # tried in order after each reply; the first whose condition holds is taken
      - when: red_flag or mood < 10         # a condition; see the names below
        end: walks_out                      # `end:` finishes with an ending ...
      - when: scores.@CRITERION@ >= 0.6 or goals.own_the_delay
        to: next_step                       # ... `to:` moves to another beat
      - to: chasing                         # no `when:` means always: a fallback
  - id: chasing
    lines:
      - "I don't need sympathy, I need to know where my parcel is."
      - "That's what the email said too. Is it actually coming before {{ gift_day }}?"
    model_replies:
      - "Fair enough. I can see it never left our warehouse; I'm sending a new one by express today."
    transitions:
      - when: red_flag
        end: walks_out
      - when: scores.@CRITERION@ >= 0.5 or goals.firm_next_step
        to: next_step
      - when: turn >= 4 and mood < 30
        end: wants_manager
      # No fallback here: when nothing holds she stays on this beat and says another of its lines.
  - id: next_step
    lines:
      - "Okay. So what happens now? It's for {{ gift_day }}."
      - "Right. Can you actually get it to me before {{ gift_day }}?"
    model_replies:
      - "I'm sending a replacement by express today so it arrives Friday, and I'll text you the tracking by five."
    transitions:
      - when: goals.firm_next_step or overall >= 0.7
        end: sorted
      - when: red_flag
        end: walks_out
      - when: overall < 0.4
        to: chasing

endings:                      # how it can end; kind is one of: resolved, walked_out, escalated (to a manager)
  - id: sorted
    kind: resolved
    line: "Friday is fine. Thank you for actually sorting it."    # her closing line (a template)
    summary: She has a delivery day she believes, and will order again.   # one sentence for the debrief
  - id: wants_manager
    kind: escalated
    line: "I'd like to speak to a manager, please."
    summary: She asked for a manager because nobody took the problem on.
  - id: walks_out
    kind: walked_out
    line: "Cancel the order. I'll buy it somewhere else."
    summary: She cancelled and will not be back.
on_patience_out: walks_out    # the ending taken when her patience runs out
on_turn_limit: wants_manager  # the ending taken when turn_limit replies have been made

# CONDITIONS (`when:`) read the last reply: scores.<criterion> (0-1) and levels.<criterion> (0, 1, 2, ...)
# for each criterion of the rubric, overall (its weighted score, 0-1), goals.<goal id> (met so far), red_flag
# (the reply raised one), mood (0-100), patience, turn (1 for the first reply) and difficulty ("easy",
# "medium", "hard"). Combine them with and, or, not, and compare with < <= > >= == !=.
# MOOD AND PATIENCE: a reply moves mood by up to +-20 with its score (scaled by difficulty), each goal met adds 8,
# a red flag takes 25 and two points of patience; a reply scoring under 0.4 costs one point of patience.
"""


_RUBRIC = """\
# yaml-language-server: $schema=@SCHEMA@
# A starter rubric: it validates as it is. A scenario uses it with `rubric: @ID@` and must sit in the same
# folder (or be validated together with it). Every criterion scores straight away, without training, by how
# close a reply is to its levels' example replies; `frontline train --rubric @ID@ --data FILE` fits a trained
# head later, from labelled replies.

id: @ID@                      # stable; scenarios name this rubric with it
name: Phone and chat basics   # shown to trainees and trainers
description: >-
  Does the customer feel listened to, and do they leave knowing exactly what happens next?
pass_threshold: 0.6           # weighted average score (0-1) a session needs, unless a scenario sets pass_mark

criteria:                     # every reply is scored on each of these
  - id: listening             # stable: conditions read scores.listening / levels.listening, and stored scores keep it
    name: Listening           # shown to trainees
    description: Says back what happened to this customer and why it matters to them.
    weight: 1.0               # relative weight in the overall score
    levels:                   # level 0 is the worst; numbered 0, 1, 2, ... without gaps; at least two
      - level: 0
        description: Ignores or dismisses what the customer said.
        feedback: The customer didn't hear that you noticed their problem. Name it first.   # shown to the trainee
        examples:             # replies at this level: what the scorer compares a reply with
          - "What's the order number?"
          - "That's just how it is, I'm afraid."
          - "Calm down, it's only a few days."
      - level: 1
        description: Polite but generic acknowledgement.
        feedback: Polite, but it could be said to anyone. Say back what happened to them.
        examples:
          - "I understand your frustration."
          - "Sorry for the inconvenience."
          - "Thanks for your patience."
      - level: 2
        description: Names this customer's situation and why it matters.
        feedback: They felt heard. You named their situation and why it matters.
        examples:
          - "Four days late with nobody answering your email, and it's a birthday present; I'm sorry."
          - "You've had to chase us twice for a parcel you paid express for; that's not good enough."
          - "Your son's kit was meant to arrive before his first match, and it didn't; I understand why you're upset."
  - id: next_step
    name: A clear next step
    description: Commits to a specific action, with a time, that the adviser will take.
    weight: 1.0
    levels:
      - level: 0
        description: Sends the customer elsewhere or says nothing can be done.
        feedback: You handed the problem back. Say what you will do.
        examples:
          - "You'll have to contact the courier."
          - "There's nothing I can do about it."
          - "Try emailing us again."
      - level: 1
        description: Vague or conditional help.
        feedback: A start, but vague. Commit to a concrete step and when it will happen.
        examples:
          - "I'll see what I can do."
          - "Someone should be in touch soon."
          - "It will probably turn up this week."
      - level: 2
        description: A concrete action, owned by the adviser, with a time.
        feedback: Clear and owned. They know what happens next and when.
        examples:
          - "I'm sending a replacement by express today and I'll text you the tracking number by five."
          - "I'll call the courier now and ring you back before two with a delivery slot."
          - "I've refunded the delivery charge and booked a new delivery for Friday morning."

red_flags:                    # behaviour that fails a turn outright, whatever the scores
  - id: blames_customer
    description: Blames the customer for the problem.
    feedback: Blaming the customer ends the conversation badly, even when they made a mistake.
    examples:                 # a reply close in meaning to one of these raises the flag
      - "You should have checked the delivery date before ordering."
      - "That's your fault for giving us the wrong address."
"""
