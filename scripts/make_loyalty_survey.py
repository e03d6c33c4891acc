"""Simulate the SYNTHETIC customer survey of the ``loyalty_store`` data shipped in clvmodels.

Run once; the output in ``clvmodels/data/files/`` is committed::

    python scripts/make_loyalty_survey.py [--seed N] [--out FOLDER]

Not real answers: an example input of ``metrics.survey`` (``configs/loyalty.yaml``) for
the Net Promoter Score and the customer loyalty index, made as follows with
``numpy.random.default_rng(seed)`` (seed :data:`SURVEY_SEED`), in this order:

* respondents: :data:`RESPONDENTS` customers of ``loyalty_store_customers`` drawn
  without replacement, sorted by id;
* a latent loyalty ``z ~ Normal(μ, 1)`` per respondent, ``μ = 0.4`` for loyalty members
  and 0 otherwise (members are a little more loyal; an assumption of this example, not
  a finding);
* ``nps`` (0..10, "would you recommend us?"): ``round(7 + 1.6 z)`` clipped to 0..10;
* ``recommend``, ``buy_again``, ``try_other`` (1..6): ``round(4 + z + e)`` clipped to
  1..6 with an independent ``e ~ Normal(0, 0.7)`` per answer;
* each of the four answers missing (an empty cell) with probability
  :data:`MISSING_SHARE`, independently.

Columns: ``customer_id, loyalty_member, nps, recommend, buy_again, try_other``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.data.builtin import load_builtin

OUT_DIR = Path(__file__).resolve().parents[1] / "clvmodels" / "data" / "files"
SURVEY_FILE = "loyalty_store_survey.csv"
SURVEY_SEED = 20240301
RESPONDENTS = 600
MEMBER_SHIFT = 0.4
MISSING_SHARE = 0.05


def make_survey(seed: int = SURVEY_SEED) -> pd.DataFrame:
    """The survey of the module docstring."""
    rng = np.random.default_rng(seed)
    customers = load_builtin("loyalty_store_customers")
    rows = np.sort(rng.choice(len(customers), size=RESPONDENTS, replace=False))
    chosen = customers.iloc[rows].reset_index(drop=True)
    member = chosen["loyalty_member"].to_numpy(dtype=bool)
    z = rng.normal(np.where(member, MEMBER_SHIFT, 0.0), 1.0)
    answers = {"nps": np.clip(np.rint(7.0 + 1.6 * z), 0, 10)}
    for question in ("recommend", "buy_again", "try_other"):
        noise = rng.normal(0.0, 0.7, size=RESPONDENTS)
        answers[question] = np.clip(np.rint(4.0 + z + noise), 1, 6)
    frame = pd.DataFrame({"customer_id": chosen["customer_id"], "loyalty_member": member})
    for question, values in answers.items():
        missing = rng.random(RESPONDENTS) < MISSING_SHARE
        frame[question] = pd.array(np.where(missing, np.nan, values), dtype="Int64")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SURVEY_SEED)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    path = args.out / SURVEY_FILE
    make_survey(args.seed).to_csv(path, index=False)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
