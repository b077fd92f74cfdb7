"""Writes ``matcher/formats/data/iati_codelists.json``: the IATI codelists the importer uses.

Source: ``../shared/data/iati/codelists.json`` (D-Portal's copy of every IATI codelist,
English and French). Only the lists :mod:`matcher.formats.iati` reads are kept, so the
package ships a fraction of it instead of 1 MB. Credit: IATI codelists, CC BY 4.0.

Usage: ``python scripts/extract_iati_codelists.py [SRC] [OUT]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "iati" / "codelists.json"
TARGET = ROOT / "matcher" / "formats" / "data" / "iati_codelists.json"
KEPT = (
    "ActivityStatus",
    "CRSChannelCode",
    "Country",
    "Currency",
    "OrganisationRegistrationAgency",
    "OrganisationRole",
    "OrganisationType",
    "Sector",
    "SectorCategory",
    "SectorVocabulary",
    "TagVocabulary",
    "UNSDG-Goals",
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else SOURCE
    target = Path(args[1]) if len(args) > 1 else TARGET
    everything = json.loads(source.read_text(encoding="utf-8"))
    described = ("Sector", "SectorCategory", "OrganisationType")
    kept = {
        "en-name": {name: everything["en-name"].get(name, {}) for name in KEPT},
        "fr-name": {name: everything["fr-name"].get(name, {}) for name in described},
        "en-description": {name: everything["en-description"].get(name, {}) for name in described},
    }
    kept["credit"] = "IATI codelists, CC BY 4.0 (iatistandard.org), via IATI/D-Portal"  # type: ignore[assignment]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(kept, ensure_ascii=False, sort_keys=True, indent=0) + "\n", encoding="utf-8"
    )
    print(f"wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
