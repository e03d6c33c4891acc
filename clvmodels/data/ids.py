"""Customer ids: text ids that are integers become integers, and no id is ever changed.

Kept apart from :mod:`clvmodels.data.transactions` (which needs DuckDB) so that a fit
on a customer table, which types the ids of its covariate table the same way, imports
no SQL engine.
"""

from __future__ import annotations

import pandas as pd

INTEGER_ID_PATTERN = "(0|-?[1-9][0-9]{0,17})"
"""Text ids that all match this (whole) become integers (:func:`integer_ids`): integers
written the one way Python writes them back, so that the conversion loses nothing —
``007``, ``+7`` or ``-0`` keep a whole column of ids text, as written."""


def integer_ids(ids: pd.Series) -> pd.Series:
    """Text ids that are all integers as Python writes them (:data:`INTEGER_ID_PATTERN`)
    as int64, else as given: a zero-padded id (``007``) keeps every id text, so an id is
    never changed, only typed.

    Applied to the distinct ids of a summary by every engine and to the ids of a
    customer table, so that the two always match.
    """
    if pd.api.types.is_numeric_dtype(ids) or pd.api.types.is_bool_dtype(ids) or len(ids) == 0:
        return ids
    stripped = ids.astype(str).str.strip()
    if not stripped.str.fullmatch(INTEGER_ID_PATTERN).all():
        return ids
    as_int = stripped.astype("int64")
    return as_int if as_int.is_unique else ids
