"""A customer survey: the answers behind the Net Promoter Score and the loyalty index.

One row per respondent, read from a ``.csv`` or ``.parquet`` file (``metrics.survey``).
The configured columns are mapped to their roles:

``nps``
    "How likely are you to recommend us to a friend?" on 0..10 (Reichheld 2003): the Net
    Promoter Score (:func:`clvmodels.metrics.net_promoter_score`).
``recommend``, ``buy_again``, ``try_other``
    Would recommend us, would buy again, would try our other products, each on a 6-point
    scale 1..6: the customer loyalty index (:func:`clvmodels.metrics.customer_loyalty_index`).

An empty cell is a missing answer (a blank CSV field, a null in Parquet): the NPS leaves
the respondent out, the loyalty index that item (see its docstring).  Any other value
must be a whole number on the role's scale; the first one that is not is reported with
the file, its line (CSV) or row (Parquet) and column.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clvmodels import metrics
from clvmodels.data.checks import require_columns
from clvmodels.data.parsing import csv_delimiter
from clvmodels.data.sources import is_csv_source, read_source_pandas, row_label
from clvmodels.errors import ConfigError, DataError, echo

SCALES: dict[str, tuple[int, int]] = {
    "nps": (0, 10),
    "recommend": (1, 6),
    "buy_again": (1, 6),
    "try_other": (1, 6),
}
"""The answer roles of a survey and the whole numbers each may take."""

LOYALTY_ROLES = ("recommend", "buy_again", "try_other")
"""The three answers of the customer loyalty index, all needed for it."""


def check_survey_columns(columns: Mapping[str, str], key: str = "metrics.survey.columns") -> None:
    """Raise :class:`ConfigError` (naming ``key``) for an unknown role, no role, or a
    loyalty index given only some of its three answers."""
    for role in columns:
        if role not in SCALES:
            raise ConfigError(f"{key}.{role}: unknown answer role (allowed: {', '.join(SCALES)})")
    if not columns:
        raise ConfigError(f"{key}: name at least the nps column or the three loyalty columns")
    loyalty = [role for role in LOYALTY_ROLES if role in columns]
    if loyalty and len(loyalty) < len(LOYALTY_ROLES):
        missing = ", ".join(r for r in LOYALTY_ROLES if r not in columns)
        raise ConfigError(
            f"{key}: the customer loyalty index needs all three answers; add {missing}"
        )


def read_survey(source: str, columns: Mapping[str, str]) -> pd.DataFrame:
    """The answers of a survey file, one column per configured role.

    Parameters
    ----------
    source
        A ``.csv`` (any of ``, ; TAB |`` as delimiter) or ``.parquet`` file.
    columns
        Role (:data:`SCALES`) -> the file's column.

    Returns
    -------
    pandas.DataFrame
        One float column per role, NaN for a missing answer, one row per respondent.

    Raises
    ------
    ConfigError
        An unknown role (:func:`check_survey_columns`).
    DataError
        An unreadable file, a missing column, no rows, or an answer that is not a whole
        number on its scale (naming file, line or row, and column).
    """
    check_survey_columns(columns)
    delimiter = csv_delimiter(source, None) if is_csv_source(source) else None
    frame, name = read_source_pandas(source, delimiter=delimiter)
    require_columns(name, dict(columns), frame.columns)
    if len(frame) == 0:
        raise DataError(f"{name}: no rows (a survey needs one row per respondent)")
    answers = {
        role: _answers(frame[column], role, name, column, is_csv_source(source))
        for role, column in columns.items()
    }
    return pd.DataFrame(answers)


def _answers(raw: pd.Series, role: str, name: str, column: str, is_csv: bool) -> pd.Series:
    """The answers of one column as floats (NaN: missing); DataError at the first bad one."""
    text = raw.astype(str).str.strip().where(raw.notna())
    missing = text.isna() | (text == "")
    values = pd.to_numeric(text.where(~missing), errors="coerce")
    low, high = SCALES[role]
    array = values.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~missing.to_numpy() & (
            np.isnan(array) | (array % 1 != 0) | (array < low) | (array > high)
        )
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        where = row_label(name, pos, is_file_csv=is_csv)
        raise DataError(
            f"{name}: column {echo(column)} {where}: {echo(raw.iloc[pos])} is not a whole "
            f"number from {low} to {high} (the {role} answer)"
        )
    return pd.Series(array, index=raw.index, name=role)


def survey_metrics(answers: pd.DataFrame) -> dict[str, float]:
    """The survey's seed metrics: ``survey_respondents`` (rows), ``net_promoter_score``
    (over the respondents with an ``nps`` answer) and ``customer_loyalty_index`` (with the
    three loyalty columns), each when its columns are there.

    Raises
    ------
    DataError
        A column without a single answer.
    """
    out: dict[str, float] = {"survey_respondents": float(len(answers))}
    if "nps" in answers:
        given = answers["nps"].dropna()
        if given.empty:
            raise DataError("survey: the nps column holds no answer")
        out["nps_respondents"] = float(len(given))
        out["net_promoter_score"] = metrics.net_promoter_score(given)
    if all(role in answers for role in LOYALTY_ROLES):
        out["customer_loyalty_index"] = metrics.customer_loyalty_index(
            *(answers[role] for role in LOYALTY_ROLES)
        )
    return out
