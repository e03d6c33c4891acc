"""Write the notebooks in notebooks/ (their source lives here, so diffs stay readable),
execute them and store them with their outputs.

Run ``make notebooks`` (``python scripts/make_notebooks.py``; ``--no-execute`` writes the
cells only).  The notebooks are stored executed so that their tables and plots show on a
code host and in the documentation site (mkdocs-jupyter renders them without running
them); plots are PNG images.  Only what the notebooks show is kept: no execution
timestamps, no kernel version metadata.  ``tests/test_notebooks.py`` executes them again
and checks that the stored files carry their outputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

QUICKSTART = [
    new_markdown_cell(
        "# CLV for a non-contractual store: CDNOW\n\n"
        "From a transaction log to a value per customer, and a check of the forecast "
        "against the formula marketers use today (average order value × purchase frequency "
        "× lifespan). Data: the CDNOW sample of Fader, Hardie & Lee (2005), 2,357 customers "
        "who first bought in Q1 1997; 39 weeks to fit, 39 weeks to check."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import clvmodels\n"
        "from clvmodels.clv import ValueSettings, customer_values\n"
        "from clvmodels.data import load_builtin, summarize_transactions\n"
        "from clvmodels import evaluation\n\n"
        "log = load_builtin('cdnow_sample')\n"
        "log.head()"
    ),
    new_markdown_cell(
        "## 1. One row per customer\n"
        "`frequency` = repeat purchases, `recency` = time of the last one, `T` = time since "
        "the first, in weeks; the holdout columns hold what happened afterwards."
    ),
    new_code_cell(
        "summary = summarize_transactions(log, time_unit='W', calibration_end='1997-09-30',\n"
        "                                 observation_end='1998-06-30')\n"
        "summary.describe().T[['mean', 'min', 'max']]"
    ),
    new_markdown_cell("## 2. Fit the purchase model (BG/NBD) and the spend model (Gamma-Gamma)"),
    new_code_cell(
        "bgnbd = clvmodels.fit('bgnbd', summary)\n"
        "spend = clvmodels.fit('gamma_gamma', summary)\n"
        "bgnbd.summary()"
    ),
    new_code_cell("spend.summary()"),
    new_markdown_cell(
        "## 3. Value every customer\n"
        "CLV over the next 52 weeks = margin × expected spend per order × discounted "
        "expected purchases; the interval comes from parameter uncertainty (few draws "
        "here to keep the notebook fast)."
    ),
    new_code_cell(
        "settings = ValueSettings(horizon=52, discount_rate=0.10, margin=1.0, time_unit='W',\n"
        "                         interval=0.9, draws=40)\n"
        "value = customer_values(bgnbd, summary, settings, spend=spend)\n"
        "ranked = summary.set_index('customer_id')[['frequency', 'recency', 'T']].join(value)\n"
        "ranked.sort_values('clv', ascending=False).head(10)"
    ),
    new_markdown_cell(
        "## 4. Did it beat the seed formula on the holdout?\n"
        "The seed formula forecasts each customer at the calibration purchase rate and "
        "order value of their RFM segment. Both are scored on what customers actually did "
        "in the 39 holdout weeks: errors of the mean forecast, and proper scores of the "
        "model's whole predictive distribution (log score, RPS, and whether its 90 % "
        "intervals cover as often as it says)."
    ),
    new_code_cell(
        "result = evaluation.evaluate_holdout(summary, {'bgnbd': bgnbd}, time_unit='W',\n"
        "                                     spend=spend)\n"
        "result.table[['model', 'log_score_purchases', 'coverage90_purchases',\n"
        "              'coverage90_purchases_expected', 'rmse_revenue', 'total_revenue_error']]"
    ),
    new_code_cell("print(result.verdict)"),
    new_markdown_cell(
        "Mean holdout purchases of the customers with each number of calibration "
        "purchases, actual against forecast (FHL 2005 Figure 4):"
    ),
    new_code_cell(
        "from matplotlib.figure import Figure\n"
        "from clvmodels.report.plots import conditional_expectations\n"
        "fig = Figure(figsize=(6.5, 3.5), dpi=80, layout='constrained')\n"
        "table = result.conditional_expectations.reset_index()\n"
        "conditional_expectations(table, ax=fig.subplots())\n"
        "fig"
    ),
    new_markdown_cell(
        "## 5. Does the verdict hold at another calibration end?\n"
        "A rolling-origin backtest refits every model at each calibration end and scores it "
        "on the 39 weeks after it."
    ),
    new_code_cell(
        "backtest = evaluation.backtest(\n"
        "    log, {'bgnbd': clvmodels.BGNBD(), 'paretonbd': clvmodels.ParetoNBD()},\n"
        "    origins=['1997-08-05', '1997-09-30'], holdout=39, time_unit='W',\n"
        "    spend=clvmodels.GammaGamma(), challenger=False)\n"
        "backtest.summary[backtest.summary['metric'] == 'log_score_purchases']"
    ),
    new_markdown_cell(
        "The whole job — these steps, the challenger, the plots and an HTML report — is "
        "one command: `clvmodels fit configs/cdnow.yaml`."
    ),
]

SUBSCRIPTIONS = [
    new_markdown_cell(
        "# Subscriptions: retention curves and the value of a customer base\n\n"
        "The two cohorts of Fader & Hardie (2007), 1,000 regular and 1,000 high-end "
        "subscribers followed for 12 years. We fit the shifted-beta-geometric (sBG) model "
        "on years 1–7, check its projection of years 8–12 against a constant retention "
        "rate, and value the subscribers still active after year 7 (Fader & Hardie 2010)."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import clvmodels\n"
        "from clvmodels import evaluation\n"
        "from clvmodels.clv import ValueSettings, subscription_values\n"
        "from clvmodels.data import load_builtin, survival_to_individual\n\n"
        "table = load_builtin('retention_fh2007')\n"
        "table.pivot(index='period', columns='cohort', values='alive').T"
    ),
    new_code_cell(
        "rows = survival_to_individual(table, calibration_periods=7)\n"
        "models = {cohort: clvmodels.fit('sbg', part) for cohort, part in rows.groupby('cohort')}\n"
        "{cohort: model.params_ for cohort, model in models.items()}"
    ),
    new_markdown_cell("## Projection of years 8–12"),
    new_code_cell(
        "import numpy as np\n"
        "projections = {}\n"
        "for cohort, model in models.items():\n"
        "    alive = table[table['cohort'] == cohort].sort_values('period')['alive'].to_numpy()\n"
        "    retention = evaluation.constant_retention_rate(rows[rows['cohort'] == cohort])\n"
        "    projections[cohort] = evaluation.survival_projection(\n"
        "        alive, model.survival(np.arange(len(alive))), retention, calibration_periods=7)\n"
        "    print(cohort, evaluation.projection_summary(projections[cohort]))"
    ),
    new_code_cell(
        "from matplotlib.figure import Figure\n"
        "fig = Figure(figsize=(9, 3.5), dpi=80, layout='constrained')\n"
        "for ax, (cohort, frame) in zip(fig.subplots(1, 2), projections.items()):\n"
        "    ax.plot(frame['period'], frame['actual'], 'k-', lw=2, label='actual')\n"
        "    ax.plot(frame['period'], frame['sbg'], '--', label='sBG')\n"
        "    ax.plot(frame['period'], frame['constant_retention'], ':', label='constant rate')\n"
        "    ax.axvline(7, color='grey', lw=1)\n"
        "    ax.set(title=cohort, xlabel='year', ylabel='subscribers')\n"
        "    ax.legend(frameon=False)\n"
        "fig"
    ),
    new_markdown_cell(
        "## Retention rises with tenure\n"
        "Heterogeneity: the customers who churn easily leave first, so the retention rate "
        "of those who remain rises — a constant rate cannot follow it."
    ),
    new_code_cell(
        "{cohort: np.round(model.retention_rate(np.arange(1, 13)), 3)\n"
        " for cohort, model in models.items()}"
    ),
    new_markdown_cell(
        "## Value of the current customer base\n"
        "DERL = discounted expected residual lifetime of a subscriber with n renewals, "
        "in payments; CLV = margin × price × DERL (price 100 per year, 10 % discount rate)."
    ),
    new_code_cell(
        "settings = ValueSettings(discount_rate=0.10, time_unit='Y', margin=1.0, draws=100)\n"
        "for cohort, model in models.items():\n"
        "    value = subscription_values(model, rows[rows['cohort'] == cohort], settings,\n"
        "                                price=100.0)\n"
        "    display(value)"
    ),
]


UNCERTAINTY = [
    new_markdown_cell(
        "# How sure are we? Bayesian CLV and a targeting decision under uncertainty\n\n"
        "The same BG/NBD + Gamma-Gamma models as the quickstart, fitted with PyMC: the "
        "posterior gives every customer a credible interval for CLV. We check the sampler, "
        "then ask how a budget decision changes once the uncertainty is visible. Two chains "
        "of 1,000 draws after 500 tuning steps: enough for the sampler's own checks below to "
        "pass, and the notebook still runs in well under a minute (`configs/cdnow_bayes.yaml` "
        "uses 4 × 1,000). Nothing is silenced: had a check failed, its `ConvergenceWarning` "
        "would show under the cell."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import pandas as pd\n"
        "import clvmodels\n"
        "from clvmodels.clv import ValueSettings, customer_values\n"
        "from clvmodels.data import load_builtin, summarize_transactions\n\n"
        "summary = summarize_transactions(load_builtin('cdnow_sample'), time_unit='W',\n"
        "                                 calibration_end='1997-09-30')\n"
        "sampling = dict(backend='bayes', chains=2, draws=1000, tune=500, seed=1)\n"
        "bgnbd = clvmodels.fit('bgnbd', summary, **sampling)\n"
        "spend = clvmodels.fit('gamma_gamma', summary, **sampling)\n"
        "bgnbd.summary(0.9)"
    ),
    new_markdown_cell(
        "## 1. Did the sampler work?\n"
        "Every Bayesian fit checks its chains (`clvmodels.backends.bayes.sampler_diagnostics`) "
        "and warns when a parameter's R-hat is above 1.01, its bulk or tail effective sample "
        "size (ESS) is below 400 (the `ess_floor` option), or a transition diverged. R-hat "
        "close to 1 means the chains agree; the ESS says how many independent draws they are "
        "worth."
    ),
    new_code_cell(
        "fits = {'bgnbd': bgnbd, 'gamma_gamma': spend}\n"
        "for name, model in fits.items():\n"
        "    d = model.result_.diagnostics\n"
        "    print(f\"{name}: converged {d['converged']}, \"\n"
        "          f\"{d['divergences']} divergent transitions\")\n"
        "pd.concat({name: pd.DataFrame(model.result_.diagnostics['parameters']).T\n"
        "           for name, model in fits.items()}).round(3)"
    ),
    new_code_cell(
        "from matplotlib.figure import Figure\n"
        "from clvmodels.report.plots import posterior\n"
        "fit = bgnbd.result_\n"
        "fig = Figure(figsize=(9, 6), dpi=72, layout='constrained')\n"
        "posterior(fit.draws, fit.diagnostics['draws_shape'], 'bgnbd',\n"
        "          axes=fig.subplots(len(fit.draws), 2, squeeze=False))\n"
        "fig"
    ),
    new_markdown_cell(
        "## 2. CLV with a 90 % credible interval per customer\n"
        "Each posterior draw of the parameters gives a CLV for every customer; the interval "
        "is the central 90 % of those values."
    ),
    new_code_cell(
        "settings = ValueSettings(horizon=52, discount_rate=0.10, time_unit='W', interval=0.9,\n"
        "                         draws=100)\n"
        "value = customer_values(bgnbd, summary, settings, spend=spend)\n"
        "value['width'] = value['clv_upper'] - value['clv_lower']\n"
        "ranked = summary.set_index('customer_id')[['frequency', 'recency', 'T']].join(value)\n"
        "ranked.sort_values('clv', ascending=False).head(8)"
    ),
    new_markdown_cell(
        "## 3. A targeting decision: who gets the loyalty offer?\n"
        "Marketing can afford the top 200 customers. Ranked on the point estimate alone, "
        "the 200th customer looks as safe as the 1st. Ranked on the pessimistic end of the "
        "interval (what we are 95 % sure each customer is worth at least), part of the "
        "list changes: customers whose value is uncertain (wide intervals relative to "
        "their CLV) make way for customers whose value is more certain. Whether that is "
        "the right call depends on how much the store dislikes wasted offers."
    ),
    new_code_cell(
        "top_point = set(ranked.nlargest(200, 'clv').index)\n"
        "top_safe = set(ranked.nlargest(200, 'clv_lower').index)\n"
        "changed = top_point - top_safe\n"
        "print(f'{len(changed)} of 200 customers change when ranking on the lower bound')\n"
        "ranked.loc[sorted(changed)].sort_values('clv', ascending=False).head()"
    ),
    new_code_cell(
        "swapped_in = ranked.loc[sorted(top_safe - top_point)]\n"
        "swapped_out = ranked.loc[sorted(changed)]\n"
        "print('mean repeat purchases — kept out:', swapped_out['frequency'].mean().round(1),\n"
        "      '| brought in:', swapped_in['frequency'].mean().round(1))\n"
        "print('mean relative interval width — kept out:',\n"
        "      (swapped_out['width'] / swapped_out['clv']).mean().round(2),\n"
        "      '| brought in:', (swapped_in['width'] / swapped_in['clv']).mean().round(2))"
    ),
]


LOYALTY = [
    new_markdown_cell(
        "# Is our loyalty program paying off?\n\n"
        "A store runs a loyalty program and wants to know, with honest uncertainty, whether "
        "members really buy more often, churn less and spend more, and what that is worth. "
        "The data set `builtin:loyalty_store` is **synthetic**: 10,000 customers simulated "
        "from the BG/NBD and Gamma-Gamma models with *known* effects (members buy "
        "e^0.5 ≈ 1.65× as often, drop out less, and spend e^−0.1 ≈ 0.90× per order), so "
        "we can check the answers against the truth. 52 weeks to fit, 26 to check."
    ),
    new_code_cell(
        "import pandas as pd\n"
        "import clvmodels\n"
        "from clvmodels.clv import ValueSettings, customer_values\n"
        "from clvmodels.clv import covariate_lift\n"
        "from clvmodels.data import load_builtin, summarize_transactions\n"
        "from clvmodels.data.builtin import LOYALTY_STORE_TRUTH\n\n"
        "customers = load_builtin('loyalty_store_customers')\n"
        "summary = summarize_transactions('builtin:loyalty_store', time_unit='W',\n"
        "                                 calibration_end='2024-12-29',\n"
        "                                 observation_end='2025-06-29')\n"
        "summary = summary.merge(customers, on='customer_id')\n"
        "customers.head()"
    ),
    new_markdown_cell(
        "## 1. The naive view\n"
        "Members spent more in the first year. But part of that is just that they were "
        "observed buying more; how much will they be worth *from now on*, and how much of "
        "it is due to the membership?"
    ),
    new_code_cell(
        "summary.groupby('loyalty_member')[['frequency', 'monetary_value', 'revenue']].mean()"
    ),
    new_markdown_cell(
        "## 2. Models with covariates\n"
        "Membership and channel on the purchase rate, membership on the dropout and on the "
        "spend per order (Fader & Hardie 2007, note 019: α_i = α₀ exp(−γ′z_i), "
        "a_i = a₀ exp(γ′z_i), b_i = b₀ exp(γ′z_i); spend scale γ_i = γ₀ exp(δ′z_i)). "
        "`mean_factor` is what the covariate does to the mean purchase rate or spend per "
        "order; `truth` is what the data were simulated with."
    ),
    new_code_cell(
        "bgnbd = clvmodels.BGNBD(covariates={'purchase': ['loyalty_member', 'channel'],\n"
        "                                    'dropout': ['loyalty_member']}).fit(summary)\n"
        "spend = clvmodels.GammaGamma(covariates={'spend': ['loyalty_member']}).fit(summary)\n"
        "effects = pd.concat([bgnbd.covariate_effects(), spend.covariate_effects()])\n"
        "truth = {**LOYALTY_STORE_TRUTH['bgnbd'], **LOYALTY_STORE_TRUTH['gamma_gamma']}\n"
        "effects['truth'] = [truth[name] for name in effects.index]\n"
        "effects[['estimate', 'lower', 'upper', 'truth', 'quantity', 'mean_factor',\n"
        "         'mean_factor_lower', 'mean_factor_upper']].round(3)"
    ),
    new_markdown_cell(
        "## 3. Do the covariates improve the forecast?\n"
        "Holdout purchases per customer, actual vs predicted, for members and non-members: "
        "the plain BG/NBD (one set of parameters for everybody) against the one with "
        "covariates."
    ),
    new_code_cell(
        "plain = clvmodels.BGNBD().fit(summary)\n"
        "horizon = float(summary['duration_holdout'].iloc[0])\n"
        "check = summary.set_index('customer_id')[['loyalty_member', 'frequency_holdout']]\n"
        "check = check.assign(\n"
        "    plain=plain.predict_purchases(summary, horizon),\n"
        "    with_covariates=bgnbd.predict_purchases(summary, horizon))\n"
        "check.groupby('loyalty_member').mean().round(3)"
    ),
    new_code_cell(
        "from scipy import stats\n"
        "lr = 2 * (bgnbd.log_likelihood_ - plain.log_likelihood_)\n"
        "extra = len(bgnbd.result_.coefficients)\n"
        "print(f'likelihood ratio {lr:.1f} on {extra} coefficients: '\n"
        "      f'p = {stats.chi2.sf(lr, extra):.2g}')\n"
        "for name in ('plain', 'with_covariates'):\n"
        "    error = check[name] - check['frequency_holdout']\n"
        "    rmse = (error ** 2).mean() ** 0.5\n"
        "    total = check[name].sum() / check['frequency_holdout'].sum() - 1\n"
        "    print(f'{name:>15}: MAE {error.abs().mean():.4f} RMSE {rmse:.4f}, total {total:+.1%}')"
    ),
    new_markdown_cell(
        "The likelihood-ratio test says whether membership and channel explain differences "
        "between customers; the holdout errors say whether they sharpen the forecast of "
        "each customer. The two need not agree: a customer's own purchase history already "
        "carries most of what her attributes would tell, so covariates often matter more "
        "for *why* customers differ, and for what-if questions like the next one, than for "
        "ranking customers."
    ),
    new_markdown_cell(
        "## 4. What is the membership worth?\n"
        "Every customer is valued twice from the same history: as a member and as a "
        "non-member, other attributes unchanged. The lift is the mean difference in "
        "one-year CLV (revenue, 10 % yearly discount), with a 90 % interval from the "
        "parameter uncertainty."
    ),
    new_code_cell(
        "settings = ValueSettings(horizon=52, discount_rate=0.10, time_unit='W',\n"
        "                         interval=0.9, draws=100)\n"
        "per_customer, lift = covariate_lift(bgnbd, summary, settings, 'loyalty_member',\n"
        "                                    spend=spend)\n"
        "lift.round(3)"
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import matplotlib.pyplot as plt\n"
        "from clvmodels.report.effect_plots import covariate_lift as plot_lift\n"
        "fig, ax = plt.subplots(figsize=(5, 3.5), dpi=80)\n"
        "plot_lift(lift.assign(covariate='loyalty_member'), ax=ax)\n"
        "plt.show()"
    ),
    new_markdown_cell(
        "## 5. Is it paying off?\n"
        "Suppose the program costs 2.00 per member per year (perks and discounts) and the "
        "store keeps a 30 % margin on revenue. The value it adds per member is the margin "
        "on the lift among members; the pessimistic end of its interval tells whether the "
        "conclusion survives the uncertainty."
    ),
    new_code_cell(
        "margin, cost = 0.30, 2.00\n"
        "members = lift.loc['with']\n"
        "for label, value in (('estimate', members['lift']),\n"
        "                     ('pessimistic (5 %)', members['lift_lower']),\n"
        "                     ('optimistic (95 %)', members['lift_upper'])):\n"
        "    print(f'{label:>18}: margin added {margin * value:5.2f} vs cost {cost:.2f} '\n"
        "          f'-> net {margin * value - cost:+.2f} per member and year')"
    ),
    new_markdown_cell(
        "**Caveat.** This is what the fitted associations imply, not a controlled "
        "experiment. Here membership was assigned at random by the simulation, so the "
        "association *is* the effect. In a real store, customers who choose to join may "
        "have been better customers anyway (self-selection); a randomised offer, or "
        "comparing customers before and after they joined, is needed to separate the two."
    ),
]


NOTEBOOKS = {
    "quickstart_noncontractual.ipynb": QUICKSTART,
    "subscriptions.ipynb": SUBSCRIPTIONS,
    "uncertainty_bayesian.ipynb": UNCERTAINTY,
    "loyalty_program.ipynb": LOYALTY,
}


def build(cells: list) -> nbformat.NotebookNode:
    """A notebook of ``cells`` (stable cell ids, so re-running changes no line)."""
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number:02d}"
    return notebook


def execute(notebook: nbformat.NotebookNode, timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel (in notebooks/), then drop the metadata that
    changes from run to run (timings, kernel and Python versions)."""
    import nbclient

    nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    ).execute()
    notebook.metadata.pop("language_info", None)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    return notebook


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write the cells only")
    args = parser.parse_args(argv)
    HERE.mkdir(exist_ok=True)
    for name in args.names or NOTEBOOKS:
        notebook = build(NOTEBOOKS[name])
        if not args.no_execute:
            notebook = execute(notebook)
        nbformat.write(notebook, HERE / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
