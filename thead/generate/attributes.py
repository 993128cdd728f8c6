"""The attribute vocabulary of label-guided generation: ``--attr KEY=VALUE`` -> prompt phrases.

Keys and their values (``thead generate --help`` prints :func:`help_table`, built from the same vocabulary):

=============  ===============================================================================
age            a number of years (1-100), or child, teen, young, adult, middle-aged, elderly
gender         female, male, nonbinary
hair           hair colour: black, brown, blonde, red, auburn, grey, white, blue, pink
hair_style     short, long, curly, wavy, straight, braids, bun, ponytail, buzz, bald
skin           skin tone: fair, light, medium, olive, tan, brown, dark
expression     neutral, smile, laugh, serious, surprised, sad, angry
glasses        none, eyeglasses, sunglasses
beard          none, stubble, short, full, goatee, moustache
lighting       soft, studio, natural, dramatic, golden-hour, low-key, high-key
background     plain, white, grey, studio, office, outdoor, city, nature, blurred
style          photo, painting, 3d
=============  ===============================================================================

Each value becomes a positive phrase and, for some values (``glasses=none``, ``beard=none``,
``style=photo``), a negative phrase. Unknown keys or values are usage errors with a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from thead.errors import UsageError

AGE_WORDS = {"child": "", "teen": "teenage", "young": "young", "adult": "adult", "middle-aged": "middle-aged",
             "elderly": "elderly"}  # age word -> its adjective before the noun
GENDERS = {"female": ("woman", "girl"), "male": ("man", "boy"), "nonbinary": ("androgynous person", "child")}

# key -> value -> (positive phrase, negative phrase)
VOCABULARY: dict[str, dict[str, tuple[str, str]]] = {
    "hair": {c: (f"{c} hair", "") for c in ("black", "brown", "blonde", "red", "auburn", "grey", "white", "blue", "pink")},
    "hair_style": {
        "short": ("short hair", ""), "long": ("long hair", ""), "curly": ("curly hair", ""),
        "wavy": ("wavy hair", ""), "straight": ("straight hair", ""), "braids": ("braided hair", ""),
        "bun": ("hair in a bun", ""), "ponytail": ("hair in a ponytail", ""), "buzz": ("buzz cut", ""),
        "bald": ("bald head", "hair"),
    },
    "skin": {t: (f"{t} skin", "") for t in ("fair", "light", "medium", "olive", "tan", "brown", "dark")},
    "expression": {
        "neutral": ("neutral expression, mouth closed", ""), "smile": ("gentle smile", ""),
        "laugh": ("laughing", ""), "serious": ("serious expression", ""), "surprised": ("surprised expression", ""),
        "sad": ("sad expression", ""), "angry": ("angry expression", ""),
    },
    "glasses": {"none": ("", "glasses, sunglasses"), "eyeglasses": ("wearing eyeglasses", ""),
                "sunglasses": ("wearing sunglasses", "")},
    "beard": {
        "none": ("clean-shaven", "beard, moustache, stubble"), "stubble": ("stubble", ""),
        "short": ("short beard", ""), "full": ("full beard", ""), "goatee": ("goatee", ""),
        "moustache": ("moustache", ""),
    },
    "lighting": {
        "soft": ("soft lighting", ""), "studio": ("studio lighting", ""), "natural": ("natural daylight", ""),
        "dramatic": ("dramatic lighting", ""), "golden-hour": ("golden hour light", ""),
        "low-key": ("low-key lighting", ""), "high-key": ("high-key lighting", ""),
    },
    "background": {
        "plain": ("plain background", ""), "white": ("white background", ""), "grey": ("grey background", ""),
        "studio": ("studio backdrop", ""), "office": ("office background", ""),
        "outdoor": ("outdoor background", ""), "city": ("city street background", ""),
        "nature": ("nature background", ""), "blurred": ("blurred background, bokeh", ""),
    },
    "style": {
        "photo": ("professional photograph", "painting, drawing, cartoon, 3d render"),
        "painting": ("oil painting", "photograph"),
        "3d": ("3d render", "photograph"),
    },
}
KEYS = ("age", "gender", *VOCABULARY)
ALIASES = {
    "hair_colour": "hair", "hair_color": "hair", "hair-colour": "hair", "hair-color": "hair",
    "hairstyle": "hair_style", "hair-style": "hair_style", "skin_tone": "skin", "skin-tone": "skin",
    "sex": "gender",
}
VALUE_ALIASES = {"gender": {"woman": "female", "man": "male", "f": "female", "m": "male"},
                 "hair": {"blond": "blonde", "gray": "grey", "ginger": "red"},
                 "background": {"gray": "grey"}, "expression": {"smiling": "smile"},
                 "glasses": {"no": "none", "yes": "eyeglasses"}, "beard": {"no": "none", "mustache": "moustache"}}


def values_of(key: str) -> list[str]:
    """The values ``key`` accepts, in vocabulary order (``age`` also takes a number of years)."""
    if key == "age":
        return ["1-100", *AGE_WORDS]
    if key == "gender":
        return list(GENDERS)
    return list(VOCABULARY[key])


def help_table(indent: str = "  ") -> str:
    """One line per key: the key, then every value it accepts (for ``--help``)."""
    width = max(map(len, KEYS)) + 2
    return "\n".join(f"{indent}{key:<{width}}{', '.join(values_of(key))}" for key in KEYS)


@dataclass(frozen=True)
class Attributes:
    """Validated attributes in vocabulary order, ``{key: value}`` with canonical spellings."""

    values: dict[str, str]

    def phrases(self) -> tuple[str, str]:
        """(positive, negative) prompt phrases describing the portrait."""
        style = self.values.get("style")
        positive = [VOCABULARY["style"][style][0]] if style else []
        if self.has_subject:
            positive.append(self.subject())
        negative = [VOCABULARY["style"][style][1]] if style else []
        for key in VOCABULARY:
            if key == "style" or key not in self.values:
                continue
            pos, neg = VOCABULARY[key][self.values[key]]
            positive += [pos] if pos else []
            negative += [neg] if neg else []
        return ", ".join(p for p in positive if p), ", ".join(n for n in negative if n)

    @property
    def has_subject(self) -> bool:
        """Whether age or gender say who is portrayed."""
        return "age" in self.values or "gender" in self.values

    def subject(self) -> str:
        """``30-year-old woman``, ``elderly man``, ``teenage girl``, ``person``."""
        age, gender = self.values.get("age"), self.values.get("gender")
        minor = age is not None and (age in ("child", "teen") or age.isdigit() and int(age) < 18)
        noun = GENDERS[gender][1 if minor else 0] if gender else ("child" if minor else "person")
        if age is None:
            return noun
        if age.isdigit():
            return f"{age}-year-old {noun}"
        return f"{AGE_WORDS[age]} {noun}".strip()


def parse_attributes(items: Iterable[str]) -> Attributes:
    """``["age=30", "hair=red"]`` -> :class:`Attributes`; UsageError for anything outside the vocabulary."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = (part.strip().lower() for part in item.partition("="))
        if not sep or not key or not value:
            raise UsageError(f"--attr expects KEY=VALUE, got '{item}'", "e.g. --attr hair=red")
        key = _canonical_key(key)
        value = _canonical_value(key, value)
        if key in values and values[key] != value:
            raise UsageError(f"--attr {key} given twice ({values[key]} and {value})", "keep one")
        values[key] = value
    return Attributes({key: values[key] for key in KEYS if key in values})


def _canonical_key(key: str) -> str:
    key = ALIASES.get(key, key)
    if key in KEYS:
        return key
    raise UsageError(f"unknown attribute '{key}'", _suggest(key, [*KEYS, *ALIASES], ALIASES) + f"keys: {', '.join(KEYS)}")


def _canonical_value(key: str, value: str) -> str:
    value = VALUE_ALIASES.get(key, {}).get(value, value)
    if key == "age":
        if value.isdigit() and 1 <= int(value) <= 100:
            return str(int(value))
        choices = list(AGE_WORDS)
        if value in choices:
            return value
        raise UsageError(f"unknown age '{value}'", _suggest(value, choices, {}) +
                         f"give years (1-100) or one of: {', '.join(choices)}")
    choices = list(GENDERS) if key == "gender" else list(VOCABULARY[key])
    if value in choices:
        return value
    raise UsageError(f"unknown {key} '{value}'",
                     _suggest(value, [*choices, *VALUE_ALIASES.get(key, {})], VALUE_ALIASES.get(key, {}))
                     + f"choose from: {', '.join(choices)}")


def _suggest(word: str, known: list[str], aliases: dict[str, str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"did you mean '{aliases.get(close[0], close[0])}'? " if close else ""

