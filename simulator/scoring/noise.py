"""Surface noise that must not change a reply's levels: typos, case, punctuation, a greeting, the customer's
name, US/UK spelling, an emoji. Training adds a noisy copy of replies with their labels (so the heads and the
adapter learn that these do not matter); the robustness benchmark uses hand-written noisy pairs instead."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import Callable, Sequence

from simulator.scoring.data import Example

GREETINGS = ("Hi,", "Hello!", "Morning,", "Hiya,", "Hi there,", "Good afternoon,", "Evening,", "Hey,")
NAMES = ("Sam", "Priya", "Mr Okafor", "Mrs Byrne", "Tom", "Aisha", "Kofi", "Ms Lindqvist", "Dave", "Mei")
EMOJI = ("🙂", "👍", "🙏", "😊", "😕")
UK_US = {
    "apologise": "apologize", "apologised": "apologized", "apologising": "apologizing", "organise": "organize",
    "organised": "organized", "realise": "realize", "realised": "realized", "recognise": "recognize",
    "prioritise": "prioritize", "minimise": "minimize", "sympathise": "sympathize", "authorise": "authorize",
    "authorised": "authorized", "colour": "color", "favour": "favor", "behaviour": "behavior",
    "neighbour": "neighbor", "honour": "honor", "centre": "center", "metre": "meter", "theatre": "theater",
    "cancelled": "canceled", "cancelling": "canceling", "travelling": "traveling", "licence": "license",
    "catalogue": "catalog", "cheque": "check", "jewellery": "jewelry", "grey": "gray", "tyre": "tire",
    "programme": "program", "enrol": "enroll", "fulfil": "fulfill", "defence": "defense", "mum": "mom",
}
US_UK = {us: uk for uk, us in UK_US.items()}


def typos(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 4]
    for i in rng.sample(candidates, min(len(candidates), rng.randint(1, 3))):
        word = words[i]
        letters = [j for j, c in enumerate(word) if c.isalpha()]
        j = rng.choice(letters[1:-1] or letters)
        edit = rng.randrange(3)
        if edit == 0 and j + 1 < len(word) and word[j + 1].isalpha():
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]  # swap two letters
        elif edit == 1:
            word = word[:j] + word[j + 1 :]  # drop one
        else:
            word = word[:j] + word[j] + word[j:]  # double one
        words[i] = word
    return " ".join(words)


def lowercase(text: str, rng: random.Random) -> str:
    return text.lower()


def punctuation(text: str, rng: random.Random) -> str:
    stripped = re.sub(r"[.,!?;:]+(?=\s|$)", "", text)
    return stripped.replace("'", "") if rng.random() < 0.5 else stripped


def greeting(text: str, rng: random.Random) -> str:
    return f"{rng.choice(GREETINGS)} {text}"


def name(text: str, rng: random.Random) -> str:
    who = rng.choice(NAMES)
    if rng.random() < 0.5:
        return f"{who}, {text}"
    return f"{text.rstrip('.!?')}, {who}."


def spelling(text: str, rng: random.Random) -> str:
    table = UK_US if any(re.search(rf"\b{w}\b", text, re.I) for w in UK_US) else US_UK

    def swap(match: re.Match) -> str:
        word = match.group(0)
        new = table.get(word.lower(), word)
        return new.capitalize() if word[:1].isupper() else new

    return re.sub(r"\b(" + "|".join(map(re.escape, table)) + r")\b", swap, text, flags=re.I)


def emoji(text: str, rng: random.Random) -> str:
    return f"{text} {rng.choice(EMOJI)}"


KINDS: dict[str, Callable[[str, random.Random], str]] = {
    "typos": typos, "lowercase": lowercase, "punctuation": punctuation, "greeting": greeting, "name": name,
    "spelling": spelling, "emoji": emoji,
}


def noisy(text: str, rng: random.Random) -> tuple[str, str]:
    """(kind, text with one kind of surface noise); spelling only where the text has a word to swap."""
    kinds = list(KINDS)
    rng.shuffle(kinds)
    for kind in kinds:
        changed = KINDS[kind](text, rng)
        if changed != text and changed.strip():
            return kind, changed
    return "greeting", greeting(text, rng)


def augment(examples: Sequence[Example], fraction: float, seed: int = 0) -> list[Example]:
    """`examples` plus a noisy copy, with the same labels and red flags, of about `fraction` of the clean ones."""
    rng = random.Random(seed)
    extra: list[Example] = []
    for example in examples:
        if example.noise_of or rng.random() >= fraction:
            continue
        kind, text = noisy(example.reply, rng)
        extra.append(replace(example, id=f"{example.id}~aug-{kind}", reply=text, noise_of=example.id))
    return [*examples, *extra]
