"""Concept-note intake: free text in English or French into a draft initiative (DESIGN.md 5.2).

Every field of the draft comes as a :class:`Suggestion`, with the words that triggered it and a
confidence, so that a broker can accept or drop it; the draft initiative holds the suggestions
of confidence at least :data:`ACCEPT_AT`.

What is matched, and how confident it makes us:

========================= ================================================ ==========
field                     matched against                                  confidence
========================= ================================================ ==========
themes, needs,            the term's English ``label`` or French            0.9
activity_types            ``label_fr`` (``data/taxonomy/*.csv``)
\\                         one of the term's ``keywords`` (English and      0.75
                          French phrases)
\\                         +0.05 for each further mention                   (at most 0.95)
\\                         with an encoder: a sentence whose embedding is   the cosine,
                          close to the term's label and description        at most 0.45
countries                 a country's name (English or French)             0.9
\\                         a demonym (*Indian*, *sénégalaises*)             0.75
\\                         a region (*West Africa*, *Afrique australe*):    0.5
                          the countries of its M49 (sub-)region
lead                      an organisation's name or alias after a lead      0.85
                          cue (*led by*, *sous la conduite de*)
\\                         else the first organisation named                0.55
partners                  the other organisations named                    0.35
========================= ================================================ ==========

Matching ignores case and accents; the last word of a phrase may take a plural ending
(*school* matches *schools*, *entrepreneur* *entrepreneurs*); a phrase inside a longer one of
the same vocabulary does not count (*teacher training* is not also *training*). A need's weight
is 0.75 when it is mentioned once, 1.0 from two mentions on. The language is the one whose
common words (*the*, *and*, *of* / *le*, *et*, *des*) the note uses more.

Examples
--------
>>> from matcher.formats.taxonomy_io import load_taxonomies
>>> intake = ConceptNoteIntake(load_taxonomies())
>>> draft = intake.draft("Travail des enfants en Inde : scolarisation et microcrédit.")
>>> draft.language, draft.initiative["themes"], draft.initiative["countries"]
('fr', ['child_labour', 'education'], ['IN'])
>>> draft.initiative["needs"]
[{'capability': 'funding.loans.microcredit', 'weight': 0.75}]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher.domain.country_names import CountryNames, fold
from matcher.domain.model import Organisation
from matcher.domain.taxonomy import Taxonomies, Vocabulary
from matcher.engine.text import Encoder

__all__ = ["ACCEPT_AT", "Suggestion", "Draft", "ConceptNoteIntake"]

#: Suggestions at or above this confidence fill the draft initiative.
ACCEPT_AT = 0.5

_LABEL, _KEYWORD, _STEP, _CAP = 0.9, 0.75, 0.05, 0.95
_SEMANTIC_CAP, _SEMANTIC_FLOOR = 0.45, 0.3
_COUNTRY_CONFIDENCE = {"name": 0.9, "demonym": 0.75, "region": 0.5}
_LEAD_CUED, _LEAD_FIRST, _PARTNER = 0.85, 0.55, 0.35
_LEAD_CUES = (
    "led by",
    "lead by",
    "leading",
    "convened by",
    "initiated by",
    "coordinated by",
    "under the leadership of",
    "lead partner",
    "dirige par",
    "dirigee par",
    "pilote par",
    "pilotee par",
    "mene par",
    "menee par",
    "porte par",
    "portee par",
    "sous la conduite de",
    "sous l'egide de",
    "a l'initiative de",
    "coordonne par",
    "coordonnee par",
    "chef de file",
)
_ENGLISH = frozenset("the and of to in for with is are on this by which will".split())
_FRENCH = frozenset("le la les et des du de en pour avec est sont dans une un qui sur".split())
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]?")
_VOCABULARIES = (
    ("themes", "themes"),
    ("needs", "capabilities"),
    ("activity_types", "activity_types"),
)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One proposed field value, why, and how sure: ``field`` is ``themes``, ``needs``,
    ``activity_types``, ``countries``, ``lead`` or ``partners``; ``method`` how it was found
    (``label``, ``keyword``, ``similar``, ``name``, ``demonym``, ``region``, ``named``);
    ``position`` the offset of the phrase in the note. Suggestions of a field come most
    confident first, then in the order of the note."""

    field: str
    value: str
    phrase: str
    confidence: float
    method: str
    label: str = ""
    weight: float | None = None
    position: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {
            "field": self.field,
            "value": self.value,
            "label": self.label,
            "phrase": self.phrase,
            "confidence": self.confidence,
            "method": self.method,
            "position": self.position,
        }
        if self.weight is not None:
            out["weight"] = self.weight
        return out


@dataclass(frozen=True, slots=True)
class Draft:
    """A concept note read: its language, the suggestions, and the draft initiative (the
    JSON of DESIGN.md 5.2, without ``lead`` when no organisation was recognised)."""

    language: str
    suggestions: tuple[Suggestion, ...]
    initiative: Mapping[str, Any] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``language``, ``initiative``, ``suggestions``."""
        return {
            "language": self.language,
            "initiative": dict(self.initiative),
            "suggestions": [s.to_dict() for s in self.suggestions],
        }


@dataclass(frozen=True, slots=True)
class _Phrase:
    code: str
    pattern: re.Pattern[str]
    method: str
    case_sensitive: bool


def _phrase_pattern(phrase: str, *, case_sensitive: bool) -> re.Pattern[str]:
    words = (phrase if case_sensitive else fold(phrase)).split()
    body = r"\s+".join(re.escape(word) for word in words)
    ending = "" if case_sensitive else r"(?:s|es|x)?"
    return re.compile(r"(?<![\w-])" + body + ending + r"(?![\w-])")


def _is_acronym(phrase: str) -> bool:
    letters = [c for c in phrase if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters) and " " not in phrase


def _phrases(vocabulary: Vocabulary) -> list[_Phrase]:
    found: list[_Phrase] = []
    for code, term in vocabulary.items():
        labels = {term.label, term.attributes.get("label_fr", "")}
        keywords = set(filter(None, term.attributes.get("keywords", "").split(";")))
        for text, method in [(t, "label") for t in labels] + [(k, "keyword") for k in keywords]:
            text = text.strip()
            if not text or ":" in text:  # "SDG 4: Quality education" is no phrase of a note
                continue
            acronym = _is_acronym(text)
            found.append(
                _Phrase(code, _phrase_pattern(text, case_sensitive=acronym), method, acronym)
            )
    return found


def _folded(text: str) -> str:
    folded = fold(text)
    return folded if len(folded) == len(text) else "".join(fold(c)[:1] or " " for c in text)


class ConceptNoteIntake:
    """Reads concept notes against the taxonomies (and, optionally, the organisations).

    Parameters
    ----------
    taxonomies : Taxonomies
    organisations : mapping of id to Organisation, optional
        Names and aliases recognised as the lead or partners.
    encoder : Encoder, optional
        Adds low-confidence suggestions from sentences whose meaning is close to a term's
        label and description (any language the encoder knows).
    """

    def __init__(
        self,
        taxonomies: Taxonomies,
        organisations: Mapping[str, Organisation] | None = None,
        *,
        encoder: Encoder | None = None,
    ) -> None:
        self.taxonomies = taxonomies
        self._phrases = {
            name: _phrases(getattr(taxonomies, attribute)) for name, attribute in _VOCABULARIES
        }
        self._countries = CountryNames(taxonomies.countries)
        self._names: dict[str, str] = {}
        self._acronyms: dict[str, str] = {}
        for org_id, org in (organisations or {}).items():
            for name in _names_of(org):
                if len(name) < 3:
                    continue
                if _is_acronym(name):
                    self._acronyms.setdefault(name, org_id)
                else:
                    self._names.setdefault(fold(name), org_id)
        self._longest_name = max((len(n.split()) for n in self._names), default=0)
        self.encoder = encoder
        self._term_codes: list[tuple[str, str]] = []
        self._term_vectors: np.ndarray[Any, np.dtype[np.float32]] | None = None
        if encoder is not None:
            texts = []
            for name, attribute in _VOCABULARIES:
                for code, term in getattr(taxonomies, attribute).items():
                    self._term_codes.append((name, code))
                    label_fr = term.attributes.get("label_fr", "")
                    texts.append(f"{term.label}. {label_fr}. {term.description}")
            self._term_vectors = encoder.encode(texts)

    def draft(self, text: str) -> Draft:
        """Read ``text`` into a :class:`Draft`."""
        folded = _folded(text)
        named = self._named(text, folded)
        names_taken = [False] * len(text)
        for start, end, _ in named:
            names_taken[start:end] = [True] * (end - start)
        suggestions: list[Suggestion] = []
        for name, _ in _VOCABULARIES:
            suggestions += self._terms(name, text, folded, names_taken)
        if self.encoder is not None:
            suggestions += self._similar(text, {(s.field, s.value) for s in suggestions})
        suggestions += self._places(text)
        suggestions += self._organisations(text, folded, named)
        suggestions.sort(key=lambda s: (_FIELD_ORDER[s.field], -s.confidence, s.position, s.value))
        return Draft(_language(folded), tuple(suggestions), _initiative(text, suggestions))

    def _terms(
        self, name: str, text: str, folded: str, names_taken: Sequence[bool]
    ) -> list[Suggestion]:
        """Terms of one vocabulary named in the text (not inside an organisation's name)."""
        vocabulary = getattr(self.taxonomies, dict(_VOCABULARIES)[name])
        hits: list[tuple[int, int, _Phrase]] = []
        for phrase in self._phrases[name]:
            haystack = text if phrase.case_sensitive else folded
            hits += [(m.start(), m.end(), phrase) for m in phrase.pattern.finditer(haystack)]
        hits.sort(key=lambda h: (-(h[1] - h[0]), h[0], h[2].method != "label"))
        taken = list(names_taken)
        mentions: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for start, end, phrase in hits:
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            mentions[phrase.code].append((start, end, phrase.method))
        result = []
        for code, found in mentions.items():
            found.sort()
            methods = [method for _, _, method in found]
            base = _LABEL if "label" in methods else _KEYWORD
            confidence = round(min(_CAP, base + _STEP * (len(found) - 1)), 2)
            start, end, _ = found[0]
            result.append(
                Suggestion(
                    field=name,
                    value=code,
                    phrase=text[start:end],
                    confidence=confidence,
                    method="label" if "label" in methods else "keyword",
                    label=vocabulary[code].label,
                    weight=(1.0 if len(found) > 1 else 0.75) if name == "needs" else None,
                    position=start,
                )
            )
        return result

    def _similar(self, text: str, known: set[tuple[str, str]]) -> list[Suggestion]:
        sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.split()) >= 3]
        if not sentences or self.encoder is None or self._term_vectors is None:
            return []
        sims = self.encoder.encode(sentences) @ self._term_vectors.T
        result = []
        for column, (name, code) in enumerate(self._term_codes):
            row = int(np.argmax(sims[:, column]))
            value = float(sims[row, column])
            if value < _SEMANTIC_FLOOR or (name, code) in known:
                continue
            vocabulary = getattr(self.taxonomies, dict(_VOCABULARIES)[name])
            result.append(
                Suggestion(
                    field=name,
                    value=code,
                    phrase=sentences[row],
                    confidence=round(min(_SEMANTIC_CAP, value), 2),
                    method="similar",
                    label=vocabulary[code].label,
                    weight=0.5 if name == "needs" else None,
                    position=text.find(sentences[row]),
                )
            )
        return result

    def _places(self, text: str) -> list[Suggestion]:
        best: dict[str, Suggestion] = {}
        for mention in self._countries.find(text):
            confidence = _COUNTRY_CONFIDENCE[mention.kind]
            for code in mention.codes:
                if code in best and best[code].confidence >= confidence:
                    continue
                best[code] = Suggestion(
                    field="countries",
                    value=code,
                    phrase=mention.phrase,
                    confidence=confidence,
                    method=mention.kind,
                    position=mention.start,
                    label=self.taxonomies.countries[code].name
                    if code in self.taxonomies.countries
                    else code,
                )
        return list(best.values())

    def _named(self, text: str, folded: str) -> list[tuple[int, int, str]]:
        """Spans naming a known organisation, with its id, in order."""
        named: list[tuple[int, int, str]] = []
        for acronym, org_id in self._acronyms.items():
            for m in re.finditer(r"(?<![\w-])" + re.escape(acronym) + r"(?![\w-])", text):
                named.append((m.start(), m.end(), org_id))
        if self._names:
            words = list(re.finditer(r"[\w&.-]+", folded))
            for i in range(len(words)):
                for n in range(min(self._longest_name, len(words) - i), 0, -1):
                    start, end = words[i].start(), words[i + n - 1].end()
                    found = self._names.get(folded[start:end].rstrip("."))
                    if found is not None:
                        named.append((start, end, found))
                        break
        named.sort()
        return named

    def _organisations(
        self, text: str, folded: str, named: Sequence[tuple[int, int, str]]
    ) -> list[Suggestion]:
        """The lead (after a cue, else the first named) and the other organisations named."""
        first: dict[str, tuple[int, int]] = {}
        for start, end, org_id in named:
            first.setdefault(org_id, (start, end))
        if not first:
            return []
        cued = None
        for org_id, (start, _) in sorted(first.items(), key=lambda item: item[1]):
            before = folded[max(0, start - 40) : start]
            if any(cue in before for cue in _LEAD_CUES):
                cued = org_id
                break
        lead = cued or min(first, key=lambda o: first[o])
        result = []
        for org_id, (start, end) in first.items():
            is_lead = org_id == lead
            result.append(
                Suggestion(
                    field="lead" if is_lead else "partners",
                    value=org_id,
                    phrase=text[start:end],
                    confidence=(_LEAD_CUED if cued else _LEAD_FIRST) if is_lead else _PARTNER,
                    method="named",
                    position=start,
                )
            )
        return result


_PARENTHESIS = re.compile(r"^(.*?)\s*\(([^)]+)\)\s*$")


def _names_of(org: Organisation) -> list[str]:
    """The organisation's name and aliases, and a name's parts around a parenthesis
    ("United Nations Children's Fund (UNICEF)" gives both, when the parenthesis is an
    acronym)."""
    names = []
    for name in (org.name, *org.aliases):
        name = name.strip()
        names.append(name)
        parts = _PARENTHESIS.match(name)
        if parts and _is_acronym(parts.group(2).strip()):
            names += [parts.group(1).strip(), parts.group(2).strip()]
    return names


_FIELD_ORDER = {
    "lead": 0,
    "themes": 1,
    "countries": 2,
    "activity_types": 3,
    "needs": 4,
    "partners": 5,
}


def _language(folded: str) -> str:
    words = re.findall(r"[a-z']+", folded)
    english = sum(word in _ENGLISH for word in words)
    french = sum(word in _FRENCH for word in words)
    return "fr" if french > english else "en"


def _title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            first = _SENTENCE.match(line)
            title = first.group(0).strip() if first else line
            return title if len(title) <= 160 else title[:157].rstrip() + "..."
    return ""


def _initiative(text: str, suggestions: Sequence[Suggestion]) -> dict[str, Any]:
    accepted = [s for s in suggestions if s.confidence >= ACCEPT_AT]
    initiative: dict[str, Any] = {"title": _title(text), "description": text.strip()}
    leads = [s for s in accepted if s.field == "lead"]
    if leads:
        initiative["lead"] = leads[0].value
    for name in ("themes", "countries", "activity_types"):
        initiative[name] = [s.value for s in accepted if s.field == name]
    initiative["needs"] = [
        {"capability": s.value, "weight": s.weight} for s in accepted if s.field == "needs"
    ]
    return initiative
