"""Country codes (ISO 3166-1 through pycountry) with UN M49 regions and the LDC list.

Examples
--------
>>> normalise_country("BRA"), normalise_country("UK"), normalise_country("el")
('BR', 'GB', 'GR')
>>> normalise_country("XX")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
matcher.domain.exceptions.UnknownCodeError: Unknown country code 'XX': use ISO 3166-1 ...
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import pycountry

from matcher.domain.exceptions import UnknownCodeError, ValidationError

__all__ = ["normalise_country", "country_name", "CountryInfo", "CountryTable"]

# CORDIS and EU usage: UK for GB, EL for GR. XK (Kosovo) is a user-assigned code used by the
# EU and the World Bank; ISO 3166-1 has no entry for it.
_ALIASES = {"UK": "GB", "EL": "GR"}
_EXTRA = {"XK": "Kosovo", "XKX": "Kosovo"}


def normalise_country(code: object, *, field: str | None = "country") -> str:
    """Return the ISO 3166-1 alpha-2 code for an alpha-2 or alpha-3 code or alias.

    Raises
    ------
    UnknownCodeError
        If ``code`` is no ISO 3166-1 code, alias (``UK``, ``EL``) or ``XK``.
    """
    if not isinstance(code, str) or not code.strip():
        raise UnknownCodeError(
            f"Unknown country code {code!r}: use ISO 3166-1 alpha-2 or alpha-3",
            field=field,
            value=code,
        )
    alpha2 = _alpha2(code.strip().upper())
    if alpha2 is None:
        raise UnknownCodeError(
            f"Unknown country code {code!r}: use ISO 3166-1 alpha-2 or alpha-3",
            field=field,
            value=code,
        )
    return alpha2


@functools.lru_cache(maxsize=1024)
def _alpha2(upper: str) -> str | None:
    """The alpha-2 code of an upper-case alpha-2 or alpha-3 code or alias (``None``: none);
    memoised, as a directory names the same few hundred codes again and again."""
    upper = _ALIASES.get(upper, upper)
    if upper in _EXTRA:
        return "XK"
    country = None
    if len(upper) == 2:
        country = pycountry.countries.get(alpha_2=upper)
    elif len(upper) == 3:
        country = pycountry.countries.get(alpha_3=upper)
    return None if country is None else str(country.alpha_2)


def country_name(alpha2: str) -> str:
    """The English short name of a country.

    >>> country_name("BR")
    'Brazil'
    """
    if alpha2 == "XK":
        return _EXTRA["XK"]
    country = pycountry.countries.get(alpha_2=alpha2)
    if country is None:
        raise UnknownCodeError(f"Unknown country code {alpha2!r}", field="country", value=alpha2)
    return str(country.name)


@dataclass(frozen=True, slots=True)
class CountryInfo:
    """A country with its UN M49 region and sub-region and its LDC status."""

    alpha2: str
    alpha3: str
    region: str
    sub_region: str
    ldc: bool

    @property
    def name(self) -> str:
        """English short name (from pycountry)."""
        return country_name(self.alpha2)


class CountryTable(Mapping[str, CountryInfo]):
    """Read-only table of :class:`CountryInfo` by alpha-2 code.

    >>> table = CountryTable([CountryInfo("AO", "AGO", "Africa", "Middle Africa", True)])
    >>> table.region_of("AGO"), table.is_ldc("AO")
    ('Africa', True)
    """

    def __init__(self, rows: Iterable[CountryInfo]) -> None:
        self._rows = {row.alpha2: row for row in rows}

    def __getitem__(self, code: str) -> CountryInfo:
        row = self._rows.get(code)
        if row is not None:  # an alpha-2 code as stored: no need to normalise
            return row
        alpha2 = normalise_country(code)
        try:
            return self._rows[alpha2]
        except KeyError:
            raise UnknownCodeError(
                f"Country {code!r} has no M49 region in the country table",
                field="country",
                value=code,
            ) from None

    def get(  # type: ignore[override]
        self, code: str, default: CountryInfo | None = None
    ) -> CountryInfo | None:
        """The country's row, or ``default`` for a code that is invalid or has no M49 region
        (``Mapping.get`` would let :class:`UnknownCodeError` through).

        >>> table = CountryTable([CountryInfo("AO", "AGO", "Africa", "Middle Africa", True)])
        >>> table.get("AO").region, table.get("FR"), table.get("ZZ")
        ('Africa', None, None)
        """
        try:
            return self[code]
        except ValidationError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def region_of(self, code: str) -> str:
        """The M49 region (Africa, Americas, Asia, Europe, Oceania) of a country."""
        return self[code].region

    def sub_region_of(self, code: str) -> str:
        """The M49 sub-region (e.g. South America, Southern Asia) of a country."""
        return self[code].sub_region

    def is_ldc(self, code: str) -> bool:
        """Whether a country is on the UN list of least developed countries."""
        return self[code].ldc
