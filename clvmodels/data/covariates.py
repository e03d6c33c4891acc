"""Time-invariant customer covariates: a customer attribute table -> a design matrix.

The models take covariates through an exponential link on a scale parameter (Fader &
Hardie 2007, "Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD
models", note 019: ``α_i = α₀ exp(−γ′z_i)``), so ``z_i`` must be a numeric row per
customer with no column that the baseline parameter already absorbs:

* numeric columns are used as they are (CSV text that parses as numbers counts as
  numeric);
* boolean columns (``true``/``false`` in any case, or a boolean dtype) become 0/1;
* any other column is categorical: one 0/1 column per level except a reference level
  (``name[level]``; the reference is the first level in sorted order unless given), as
  in regression with a baseline category;
* a column with a single value is refused: it is collinear with the baseline.

The rows are aligned with the customers of the summary by ``customer_id``; a customer
without a row, a duplicated id or a missing value is an error that names the table, the
column and the customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.ids import integer_ids
from clvmodels.errors import DataError

_TRUE, _FALSE = "true", "false"


@dataclass(frozen=True)
class Covariates:
    """A design matrix of customer covariates.

    Attributes
    ----------
    names
        Column names of ``matrix``: the numeric and boolean columns by name, one
        ``column[level]`` per non-reference level of a categorical column.
    matrix
        Shape ``(customers, len(names))``, float, rows in the order of the customer ids
        it was built for.
    reference
        Reference level of every categorical column.
    columns
        The table columns the design was built from, in order.
    kinds
        ``numeric``, ``boolean`` or ``categorical`` per table column.
    levels
        Every level of each categorical column, sorted (the reference among them).
    """

    names: tuple[str, ...]
    matrix: np.ndarray
    reference: Mapping[str, str]
    columns: tuple[str, ...] = ()
    kinds: Mapping[str, str] = field(default_factory=dict)
    levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def design_names(self, column: str) -> tuple[str, ...]:
        """The design columns of table column ``column``."""
        return design_names(self.encoding(), column)

    def encoding(self) -> dict[str, Any]:
        """The encoding without the data, JSON-ready (for model files): enough to build
        the same design columns for other customers with :func:`encode_like`."""
        return {
            "names": list(self.names),
            "columns": list(self.columns),
            "kinds": dict(self.kinds),
            "levels": {k: list(v) for k, v in self.levels.items()},
            "reference": dict(self.reference),
        }


def design_names(encoding: Mapping[str, Any], column: str) -> tuple[str, ...]:
    """The design columns an encoding (:meth:`Covariates.encoding`) builds from table
    column ``column``: its name, or ``column[level]`` per non-reference level."""
    if column not in encoding["columns"]:
        raise KeyError(column)
    if encoding["kinds"][column] != "categorical":
        return (column,)
    reference = encoding["reference"][column]
    return tuple(f"{column}[{lv}]" for lv in encoding["levels"][column] if lv != reference)


def covariate_matrix(
    table: pd.DataFrame,
    customer_ids: pd.Series | np.ndarray,
    columns: Sequence[str],
    *,
    source_name: str,
    reference: Mapping[str, str] | None = None,
    id_column: str = "customer_id",
) -> Covariates:
    """The covariates ``columns`` of ``table`` for ``customer_ids``, encoded (see module).

    Parameters
    ----------
    table
        One row per customer: ``id_column`` and the covariate columns (CSV text or typed).
    customer_ids
        The customers to build rows for, in the order of the result.
    columns
        The covariate columns to use, in order.
    source_name
        Name of the table in error messages (e.g. its path).
    reference
        Reference level per categorical column (default: first level in sorted order).

    Raises
    ------
    DataError
        A missing column or customer, a duplicated customer id, a missing value, a
        column with a single value, an unknown reference level.
    """
    reference = _checked_choice(table, columns, reference, source_name, (id_column,))
    rows, wanted = aligned_rows(table, customer_ids, source_name, id_column)
    return _encode_rows(rows, wanted, tuple(columns), source_name, reference)


def covariate_frame(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    source_name: str,
    reference: Mapping[str, str] | None = None,
) -> Covariates:
    """The covariates ``columns`` of a per-customer frame (one row per customer, e.g. a
    summary the covariate columns were joined to), encoded as :func:`covariate_matrix`
    does; customers are named in errors by the ``customer_id`` column, or the index.

    Raises
    ------
    DataError
        A missing column, a missing value, a column with a single value, an unknown
        reference level.
    """
    reference = _checked_choice(frame, columns, reference, source_name)
    rows, ids = _frame_rows(frame)
    return _encode_rows(rows, ids, tuple(columns), source_name, reference)


def covariate_frame_like(
    encoding: Mapping[str, Any], frame: pd.DataFrame, *, source_name: str
) -> Covariates:
    """:func:`encode_like` for a per-customer frame holding the covariate columns."""
    _check_columns(frame, encoding["columns"], source_name)
    rows, ids = _frame_rows(frame)
    return _encode_rows_like(encoding, rows, ids, source_name)


def _frame_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    ids = frame["customer_id"] if "customer_id" in frame.columns else frame.index.to_series()
    return frame.reset_index(drop=True), pd.Series(np.asarray(ids))


def _checked_choice(
    table: pd.DataFrame,
    columns: Sequence[str],
    reference: Mapping[str, str] | None,
    source_name: str,
    required: tuple[str, ...] = (),
) -> dict[str, str]:
    """The reference levels, after checking the chosen columns against the table."""
    reference = dict(reference or {})
    if not columns:
        raise DataError(f"{source_name}: no covariate columns were chosen")
    _check_columns(table, (*required, *columns), source_name)
    twice = sorted({c for c in columns if list(columns).count(c) > 1})
    if twice:
        raise DataError(f"{source_name}: covariate column {twice[0]!r} is listed twice")
    unknown = sorted(set(reference) - set(columns))
    if unknown:
        raise DataError(f"{source_name}: reference level given for {unknown[0]!r}, not a covariate")
    return reference


def _check_columns(table: pd.DataFrame, columns: Sequence[str], source_name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        present = ", ".join(map(str, table.columns))
        raise DataError(f"{source_name}: no column {missing[0]!r} (columns: {present})")


def _encode_rows(
    rows: pd.DataFrame,
    wanted: pd.Series,
    columns: tuple[str, ...],
    source_name: str,
    reference: Mapping[str, str],
) -> Covariates:
    names: list[str] = []
    blocks: list[np.ndarray] = []
    references: dict[str, str] = {}
    kinds: dict[str, str] = {}
    levels: dict[str, tuple[str, ...]] = {}
    for column in columns:
        values = _present(rows, wanted, column, source_name)
        kind, encoded = _encode(values, column, source_name, reference.get(column))
        kinds[column] = kind
        if kind == "categorical":
            references[column], levels[column], dummies = encoded
            names.extend(dummies.columns)
            blocks.append(dummies.to_numpy(dtype=float))
        else:
            names.append(column)
            blocks.append(encoded[:, None])
    return Covariates(tuple(names), np.hstack(blocks), references, columns, kinds, levels)


def encode_like(
    encoding: Mapping[str, Any],
    table: pd.DataFrame,
    customer_ids: pd.Series | np.ndarray,
    *,
    source_name: str,
    id_column: str = "customer_id",
) -> Covariates:
    """The design of other customers (e.g. to score them with a saved model) with the
    encoding of a fit (:meth:`Covariates.encoding`): the same columns in the same order,
    the same reference levels; a level the fit did not see is an error.
    """
    _check_columns(table, (id_column, *encoding["columns"]), source_name)
    rows, wanted = aligned_rows(table, customer_ids, source_name, id_column)
    return _encode_rows_like(encoding, rows, wanted, source_name)


def _encode_rows_like(
    encoding: Mapping[str, Any], rows: pd.DataFrame, wanted: pd.Series, source_name: str
) -> Covariates:
    columns = tuple(encoding["columns"])
    blocks: list[np.ndarray] = []
    for column in columns:
        values = _present(rows, wanted, column, source_name)
        kind = encoding["kinds"][column]
        if kind == "categorical":
            codes, found = _text_codes(values)
            seen = list(encoding["levels"][column])
            new = [str(v) for v in found if str(v) not in seen]
            if new:
                raise DataError(
                    f"{source_name}: level {new[0]!r} of column {column!r} was not "
                    f"in the fitted data (levels: {', '.join(seen)})"
                )
            reference = encoding["reference"][column]
            position = {str(v): i for i, v in enumerate(found)}
            blocks.extend(
                (codes == position.get(level, -1)).astype(float)[:, None]
                for level in seen
                if level != reference
            )
        elif kind == "boolean":
            if pd.api.types.is_bool_dtype(values):
                blocks.append(values.to_numpy(float)[:, None])
                continue
            codes, found = _text_codes(values)
            lowered = pd.Series(found, dtype=object).str.lower()
            if not lowered.isin([_TRUE, _FALSE]).all():
                raise DataError(f"{source_name}: column {column!r} must be true or false")
            blocks.append((lowered == _TRUE).to_numpy(float)[codes][:, None])
        else:
            numeric = pd.to_numeric(values.astype(str).str.strip(), errors="coerce").to_numpy(float)
            if not np.all(np.isfinite(numeric)):
                raise DataError(f"{source_name}: column {column!r} must be a finite number")
            blocks.append(numeric[:, None])
    return Covariates(
        tuple(encoding["names"]),
        np.hstack(blocks),
        dict(encoding["reference"]),
        columns,
        dict(encoding["kinds"]),
        {k: tuple(v) for k, v in encoding["levels"].items()},
    )


def aligned_rows(
    table: pd.DataFrame, customer_ids: pd.Series | np.ndarray, source_name: str, id_column: str
) -> tuple[pd.DataFrame, pd.Series]:
    """The table's rows in the order of ``customer_ids`` (and those ids as a Series).

    Raises
    ------
    DataError
        A missing or duplicated id, or a customer without a row.
    """
    ids = integer_ids(table[id_column].reset_index(drop=True))
    if ids.isna().any():
        raise DataError(f"{source_name}: column {id_column!r} has a missing id")
    duplicated = ids.duplicated()
    if duplicated.any():
        raise DataError(f"{source_name}: customer {ids[duplicated].iloc[0]} appears twice")
    wanted = integer_ids(pd.Series(np.asarray(customer_ids)))
    if pd.api.types.is_numeric_dtype(wanted) != pd.api.types.is_numeric_dtype(ids):
        ids, wanted = ids.astype(str).str.strip(), wanted.astype(str).str.strip()
    position = pd.Index(ids).get_indexer(wanted)
    if (position < 0).any():
        absent = wanted[position < 0]
        raise DataError(
            f"{source_name}: {len(absent)} customers have no row (first: customer {absent.iloc[0]})"
        )
    return table.iloc[position].reset_index(drop=True), wanted


def _present(rows: pd.DataFrame, wanted: pd.Series, column: str, source_name: str) -> pd.Series:
    """The column, refused if a customer's value is missing."""
    values = rows[column]
    codes, uniques = pd.factorize(values)  # missing values get code -1
    blank_level = pd.Series(uniques, dtype=object).astype(str).str.strip().eq("").to_numpy()
    blank = (codes < 0) | np.append(blank_level, True)[codes]
    if blank.any():
        raise DataError(
            f"{source_name}: column {column!r} is missing for customer {wanted[blank].iloc[0]}"
        )
    return values


def _text_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, levels)``: every value as text without surrounding blanks, given as an
    index into its distinct levels (the text work is done once per distinct value)."""
    codes, uniques = pd.factorize(values)
    stripped = pd.Series(uniques, dtype=object).astype(str).str.strip()
    merged, levels = pd.factorize(stripped)  # " a" and "a" are one level
    return merged[codes], np.asarray(levels, dtype=object)


def _encode(
    values: pd.Series, column: str, source_name: str, reference: str | None
) -> tuple[str, Any]:
    """``(kind, encoded)``: ``numeric`` or ``boolean`` with the values as floats, or
    ``categorical`` with (reference level, levels, dummy columns).  Text is inspected
    once per distinct value."""
    kind = "numeric"
    if pd.api.types.is_bool_dtype(values):
        kind, numeric = "boolean", values.to_numpy(dtype=float)
    elif pd.api.types.is_numeric_dtype(values):
        numeric = values.to_numpy(dtype=float)
    else:
        codes, levels = _text_codes(values)
        lowered = pd.Series(levels, dtype=object).str.lower()
        if reference is None and lowered.isin([_TRUE, _FALSE]).all():
            kind, numeric = "boolean", (lowered == _TRUE).to_numpy(dtype=float)[codes]
        else:
            parsed = pd.to_numeric(pd.Series(levels, dtype=object), errors="coerce")
            if reference is None and parsed.notna().all():
                numeric = parsed.to_numpy(dtype=float)[codes]
            else:
                return "categorical", _dummies(codes, levels, column, source_name, reference)
    if not np.all(np.isfinite(numeric)):
        raise DataError(f"{source_name}: column {column!r} has a value that is not finite")
    if numeric.min() == numeric.max():
        raise DataError(
            f"{source_name}: column {column!r} has the single value {numeric[0]:g}; a "
            "constant covariate cannot be told apart from the baseline"
        )
    return kind, numeric


def _dummies(
    codes: np.ndarray, found: np.ndarray, column: str, source_name: str, reference: str | None
) -> tuple[str, tuple[str, ...], pd.DataFrame]:
    levels = sorted(str(v) for v in found)
    if len(levels) < 2:
        raise DataError(
            f"{source_name}: column {column!r} has the single level {levels[0]!r}; a "
            "constant covariate cannot be told apart from the baseline"
        )
    if reference is None:
        reference = levels[0]
    elif str(reference) not in levels:
        raise DataError(
            f"{source_name}: reference level {reference!r} of column {column!r} is not "
            f"among its levels ({', '.join(levels)})"
        )
    reference = str(reference)
    position = {str(v): i for i, v in enumerate(found)}
    dummies = pd.DataFrame(
        {f"{column}[{level}]": codes == position[level] for level in levels if level != reference}
    )
    return reference, tuple(levels), dummies
