"""Apache Spark engine (optional extra ``clvmodels[spark]``): summaries, compressed fits
and per-customer scoring for logs that outgrow one machine.

- :func:`summarize_transactions_spark`: a transaction log (Spark DataFrame, CSV/Parquet
  path, ``builtin:NAME`` or pandas) -> a distributed per-customer summary with the
  semantics of the DuckDB engine (:class:`SparkSummary`);
- :func:`compressed_rows` / :func:`fit_compressed`: only the distinct rows a model sees,
  with a ``count`` column, come to the driver to be fitted;
- :func:`score_customers`: P(alive), expected purchases, spend, CLV and intervals for
  every customer with ``mapInPandas`` (:func:`clvmodels.clv.customer_values` per
  partition), written as Parquet by :func:`write_scores`;
- :func:`spark_session`, :func:`read_spark_source`: sessions and sources.

Importing this package needs ``pyspark``; the rest of clvmodels does not.
"""

from __future__ import annotations

from clvmodels.spark.session import read_spark_source, spark_session
from clvmodels.spark.summary import SparkSummary, summarize_transactions_spark

__all__ = [
    "SparkSummary",
    "read_spark_source",
    "spark_session",
    "summarize_transactions_spark",
]
