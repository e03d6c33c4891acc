"""Helpers of ``clvmodels predict`` (scoring customers with a saved model): the
covariate columns a model was fitted with, and the customer ids next to the scores."""

from __future__ import annotations

from typing import Any

from clvmodels.errors import ConfigError


def with_covariate_columns(
    frame: Any, raw: Any, models: list[Any], data_name: str, covariates: str | None
) -> Any:
    """The summary with the covariate columns the models were fitted with (and the
    group column of a hierarchical model): from the table ``covariates``
    (``--covariates``, joined on customer_id) or else from the data file ``data_name``
    itself (``raw``, as read)."""
    from clvmodels.data import read_table
    from clvmodels.data.covariates import aligned_rows

    needed: list[str] = []
    for model in models:
        encoding = None if model is None else model.result_.covariate_encoding
        needed += [c for c in (encoding or {}).get("columns", []) if c not in needed]
        group = None if model is None else (model.result_.hierarchy or {}).get("group")
        if group is not None and group not in needed:
            needed.append(group)
    if not needed:
        return frame
    frame = frame.copy()
    if covariates:
        if "customer_id" not in frame.columns:
            raise ConfigError(
                f"{data_name}: --covariates are joined on customer_id, which it lacks"
            )
        table = read_table(covariates)
        rows, _ = aligned_rows(table, frame["customer_id"].to_numpy(), covariates, "customer_id")
        source, name = rows, covariates
    else:
        source, name = raw.reset_index(drop=True), data_name
    missing = [c for c in needed if c not in source.columns]
    if missing:
        hint = "" if covariates else "; give them with --covariates FILE"
        raise ConfigError(
            f"{name}: no column {missing[0]!r}, a covariate (or the hierarchy's group) "
            f"the model was fitted with{hint}"
        )
    for column in needed:
        frame[column] = source[column].to_numpy()
    return frame


def with_ids(frame: Any, values: Any) -> Any:
    """Customer ids (when given) next to the predictions, sorted by CLV."""
    table = values.copy()
    if "customer_id" in frame.columns:
        from clvmodels.data.transactions import integer_ids

        ids = integer_ids(frame["customer_id"].reset_index(drop=True))
        table.insert(0, "customer_id", ids.to_numpy())
    return table.sort_values("clv", ascending=False, kind="stable").reset_index(drop=True)
