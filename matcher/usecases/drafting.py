"""Use case of the concept-note intake: a note's text into a draft initiative."""

from __future__ import annotations

from collections.abc import Mapping

from matcher.domain.model import Organisation
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.intake import ConceptNoteIntake, Draft
from matcher.engine.text import make_encoder

__all__ = ["make_intake", "draft_note"]


def make_intake(
    taxonomies: Taxonomies,
    organisations: Mapping[str, Organisation] | None = None,
    *,
    text_encoder: str | None = "use",
) -> ConceptNoteIntake:
    """An intake over the taxonomies and organisations; with the ``use`` sentence encoder it
    also suggests (below acceptance) terms whose meaning is close to a sentence of the note.
    The TF-IDF fallback adds nothing there: it matches words, which the labels and keywords
    already do."""
    encoder = make_encoder("use") if text_encoder == "use" else None
    return ConceptNoteIntake(taxonomies, organisations, encoder=encoder)


def draft_note(
    text: str,
    taxonomies: Taxonomies,
    organisations: Mapping[str, Organisation] | None = None,
    *,
    text_encoder: str | None = "use",
) -> Draft:
    """Read one concept note (English or French) into a draft initiative."""
    return make_intake(taxonomies, organisations, text_encoder=text_encoder).draft(text)
