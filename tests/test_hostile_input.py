"""A corpus of malformed and hostile configs, data files, outputs and model files, each
run through the command line by the harness of tests/hostile.py (exit 2, one line
naming the problem, no traceback, nothing touched).  Data files that are no UTF-8 CSV
(other encodings, binary content, huge lines, a header naming a column twice) and
amounts beyond ±1e15 are run through both summary engines, DuckDB and pandas."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile import Case, check_case

REPO = Path(__file__).resolve().parents[1]


def _config(**blocks: str) -> str:
    """A config with the given top-level YAML blocks (text), CDNOW defaults otherwise."""
    data = blocks.pop("data", "data: {source: tx.csv}")
    rest = "\n".join(blocks.values())
    return f"name: hostile\n{data}\nmodels: {{bgnbd: {{}}}}\n{rest}\n"


TX = "customer_id,date,amount\n1,2020-01-01,10\n1,2020-02-01,12\n2,2020-01-05,8\n"


def _laughs(levels: int = 13) -> str:
    lines = ['x0: &x0 ["lol", "lol"]']
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\nname: *x12\n"


RUN_MANIFEST = {"clvmodels_run": 1, "files": ["manifest.json"], "clvmodels_version": "0.1.0"}


def _alias_bomb(levels: int = 9) -> str:
    """A config with 9 aliases per level under models.bgnbd.priors.r.mu, well under the
    100-alias cap: 9^9 values written out."""
    anchors = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    anchors += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    head = "name: bomb\ndata: {source: tx.csv}\nmodels:\n  bgnbd:\n    backend: bayes\n"
    prior = "    priors:\n      r:\n        dist: lognormal\n        sigma: 1\n        mu:\n"
    return head + prior + "".join(f"          {line}\n" for line in anchors)


def _file_cases(name: str, content: str | bytes, error: str) -> dict[str, Case]:
    """``clvmodels fit`` of ``tx.csv`` holding ``content``, once per summary engine."""
    return {
        f"{name} ({engine})": Case(
            {
                "c.yaml": _config(data=f"data: {{source: tx.csv, engine: {engine}}}"),
                "tx.csv": content,
            },
            ("fit", "c.yaml", "--out", "run"),
            error,
        )
        for engine in ("duckdb", "pandas")
    }


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def _make_run_folder(tmp: Path, manifest: dict[str, object] | None = None) -> None:
    """``old/``: a run folder (with ``manifest`` as its manifest.json) holding notes.txt,
    a file its manifest does not list unless ``manifest`` says so."""
    (tmp / "old").mkdir()
    (tmp / "old" / "manifest.json").write_text(json.dumps(manifest or RUN_MANIFEST))
    (tmp / "old" / "notes.txt").write_text("mine")


def _link(name: str, target: str) -> Callable[[Path], None]:
    """A setup making ``name`` a symbolic link to ``target`` (both in the case folder)."""
    return lambda tmp: (tmp / name).symlink_to(tmp / target)


def _summarize_case(
    out: str,
    error: str,
    files: dict[str, str | bytes] | None = None,
    data: str = "tx.csv",
    engine: str = "duckdb",
    setup: Callable[[Path], None] | None = None,
) -> Case:
    """``clvmodels summarize c.yaml --out OUT`` (the config reads ``data`` with
    ``engine``): refused before the data is read, with ``--out OUT: <error>``."""
    config = _config(data=f"data: {{source: {data}, engine: {engine}}}")
    files = {"c.yaml": config, "tx.csv": TX, **(files or {})}
    argv = ("summarize", "c.yaml", "--out", out)
    return Case(files, argv, f"--out {re.escape(out)}: {error}", setup)


def _predict_case(
    out: str,
    error: str,
    files: dict[str, str | bytes] | None = None,
    options: tuple[str, ...] = (),
    setup: Callable[[Path], None] | None = None,
) -> Case:
    """``clvmodels predict model.json data.csv --out OUT``: refused before the model is
    read (an empty model file), with ``--out OUT: <error>``."""
    files = {"model.json": "{}", "data.csv": "frequency,recency,T\n1,2,3\n", **(files or {})}
    argv = ("predict", "model.json", "data.csv", "--out", out, *options)
    return Case(files, argv, f"--out {re.escape(out)}: {error}", setup)


CASES: dict[str, Case] = {
    # ------------------------------------------------------------------ YAML and keys
    "billion laughs": Case(
        {"c.yaml": _laughs()},
        ("validate", "c.yaml"),
        r"aliases \(\*name\) stand for more than 10,000 values",
    ),
    "alias bomb under the alias cap": Case(
        {"c.yaml": _alias_bomb()},
        ("validate", "c.yaml"),
        r"invalid YAML \(line \d+\): the aliases \(\*name\) stand for more than 10,000 values",
    ),
    "over 100 aliases": Case(
        {"c.yaml": "name: &n a\ndata: {source: tx.csv}\nx: [" + ", ".join(["*n"] * 101) + "]\n"},
        ("validate", "c.yaml"),
        r"more than 100 aliases",
    ),
    "alias inside its own value": Case(
        {"c.yaml": "name: a\ndata: {source: tx.csv}\nx: &x [1, *x]\n"},
        ("validate", "c.yaml"),
        r"an alias \(\*name\) inside the value it names",
    ),
    "huge data.source": Case(
        {"c.yaml": f"name: a\ndata: {{source: {'a' * 200_000}.csv}}\n"},
        ("validate", "c.yaml"),
        r"data\.source: 'a{20,}\.\.\.a*\.csv': File name too long",
    ),
    "huge prior value": Case(
        {
            "c.yaml": "name: a\ndata: {source: tx.csv}\nmodels:\n  bgnbd:\n    backend: bayes\n"
            f"    priors: {{r: {{dist: gamma, beta: 1, alpha: {'9' * 100_000}x}}}}\n"
        },
        ("validate", "c.yaml"),
        r"models\.bgnbd\.priors\.r\.alpha: expected a number, got '9{20,}\.\.\.",
    ),
    "duplicate key": Case(
        {"c.yaml": "name: a\nname: b\ndata: {source: tx.csv}\n"},
        ("validate", "c.yaml"),
        r"key 'name' is given twice \(first on line 1\)",
    ),
    "huge value echoed": Case(
        {"c.yaml": f"name: {'x/' * 50_000}\ndata: {{source: tx.csv}}\n"},
        ("validate", "c.yaml"),
        r"name: 'x/x/x.*\.\.\..*' must be a non-empty name without slashes",
    ),
    "not a mapping": Case({"c.yaml": "- a\n- b\n"}, ("validate", "c.yaml"), r"must be a mapping"),
    "yaml syntax": Case(
        {"c.yaml": "name: [a\n"}, ("validate", "c.yaml"), r"invalid YAML \(line \d+\)"
    ),
    "not utf-8": Case(
        {"c.yaml": "name: caf\xe9\n".encode("latin-1")}, ("validate", "c.yaml"), r"not UTF-8"
    ),
    "unknown key": Case(
        {"c.yaml": _config(clv="clv: {horizn: 52}"), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "run"),
        r"clv\.horizn: unknown key",
    ),
    "wrong type": Case(
        {"c.yaml": _config(clv="clv: {margin: lots}"), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "run"),
        r"clv\.margin: expected a number, got 'lots'",
    ),
    "config is a folder": Case({"c.yaml/x": ""}, ("validate", "c.yaml"), r"c\.yaml: cannot read"),
    "missing config": Case({}, ("fit", "nope.yaml"), r"nope\.yaml: no such config file"),
    "missing data": Case(
        {"c.yaml": _config()}, ("validate", "c.yaml"), r"data\.source: tx\.csv: no such file"
    ),
    "unset url variable": Case(
        {
            "c.yaml": _config(
                data="data: {source: {sql: SELECT 1, url: 'postgresql://u:${NO_SUCH_VAR}@h/db'}}"
            )
        },
        ("fit", "c.yaml", "--out", "run"),
        r"NO_SUCH_VAR",
    ),
    # ------------------------------------------------------------------ dates and amounts
    "date before 1677": Case(
        {"c.yaml": _config(), "tx.csv": TX.replace("2020-01-01", "1600-01-01")},
        ("fit", "c.yaml", "--out", "run"),
        r"tx\.csv: column 'date' line 2: date '1600-01-01' is outside 1677-09-22\.\.2262-04-11",
    ),
    "date after 2262": Case(
        {"c.yaml": _config(), "tx.csv": TX.replace("2020-01-05", "2300-01-05")},
        ("fit", "c.yaml", "--out", "run"),
        r"tx\.csv: column 'date' line 4: date '2300-01-05' is outside 1677-09-22\.\.2262-04-11",
    ),
    "unknown time zone": Case(
        {"c.yaml": _config(data="data: {source: tx.csv, timezone: Mars/Base}"), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "run"),
        r"data\.timezone: 'Mars/Base' is not an IANA time zone name",
    ),
    "date not matching date_format": Case(
        {"c.yaml": _config(data="data: {source: tx.csv, date_format: '%d/%m/%Y'}"), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "run"),
        r"tx\.csv: column 'date' line 2: cannot parse '2020-01-01' as a date with date_format",
    ),
    "bad decimal amount": Case(
        {
            "c.yaml": _config(data="data: {source: tx.csv, decimal: ','}"),
            "tx.csv": TX.replace(",", ";").replace(";12", ";12.5"),
        },
        ("fit", "c.yaml", "--out", "run"),
        r"tx\.csv: column 'amount' line 3: amount '12\.5' is not a finite number with a decimal",
    ),
    # ------------------------------------------------------------------ data files
    **_file_cases(
        "header names a column twice",
        "customer_id,date,amount,amount\n1,2020-01-01,10,1\n1,2020-02-01,12,1\n",
        r"tx\.csv: column 'amount' is in the header twice \(columns 3 and 4\)",
    ),
    **_file_cases(
        "header names the customer id twice",
        "customer_id,date,customer_id,amount\n1,2020-01-01,1,10\n",
        r"tx\.csv: column 'customer_id' is in the header twice \(columns 1 and 3\)",
    ),
    **_file_cases(
        "UTF-16 file", TX.encode("utf-16"), r"tx\.csv: the file is UTF-16 encoded; save it as UTF-8"
    ),
    **_file_cases(
        "UTF-16 file without a byte-order mark",
        TX.encode("utf-16-le"),
        r"tx\.csv: the file is UTF-16 encoded; save it as UTF-8",
    ),
    **_file_cases(
        "UTF-32 file", TX.encode("utf-32"), r"tx\.csv: the file is UTF-32 encoded; save it as UTF-8"
    ),
    **_file_cases("PNG named .csv", PNG, r"tx\.csv: not a text file \(a PNG image\)"),
    **_file_cases(
        "NUL bytes", TX.encode() + b"3,2020-01-0\x00\x00\x007,1\n", r"tx\.csv: not a text file"
    ),
    **_file_cases(
        "latin-1 file",
        TX.encode() + "4,2020-01-09,caf\xe9\n".encode("latin-1"),
        r"not UTF-8 text \(line 5\)",
    ),
    **_file_cases(
        "huge first line",
        "customer_id,date,amount," + "x" * 2_500_000 + "\n",
        r"tx\.csv: line 1 is over 2,000,000 bytes",
    ),
    **_file_cases(
        "huge cell",
        TX + "4,2020-01-09," + "9x" * 100_000 + "\n",
        r"tx\.csv: column 'amount' line 5: amount '9x9x.*\.\.\..*' is not a finite number",
    ),
    **_file_cases(
        "amount 1e308",
        TX.replace(",12\n", ",1e308\n"),
        r"tx\.csv: column 'amount' line 3: amount '1e308' is beyond ±1e15",
    ),
    **_file_cases(
        "two amounts of 1e308",
        TX.replace(",12\n", ",1e308\n").replace(",10\n", ",1e308\n"),
        r"tx\.csv: column 'amount' line 2: amount '1e308' is beyond ±1e15",
    ),
    "huge line past the first (duckdb)": Case(
        {"c.yaml": _config(), "tx.csv": TX + "4,2020-01-09," + "9" * 2_500_000 + "\n"},
        ("fit", "c.yaml", "--out", "run"),
        r"tx\.csv: line 5 is over 2,000,000 bytes",
    ),
    "covariate table in UTF-16": Case(
        {
            "c.yaml": _config(
                data="data: {source: tx.csv, covariates: {source: people.csv, columns: [member]}}"
            ),
            "tx.csv": TX,
            "people.csv": "customer_id,member\n1,1\n2,0\n".encode("utf-16"),
        },
        ("fit", "c.yaml", "--out", "run"),
        r"people\.csv: the file is UTF-16 encoded",
    ),
}

# ---------------------------------------------------------------------- the output folder
OUTPUT_FOLDER: dict[str, Case] = {
    "out is a non-run folder": Case(
        {"c.yaml": _config(), "tx.csv": TX, "mine/keep.txt": "precious"},
        ("fit", "c.yaml", "--out", "mine"),
        r"--out mine: is not empty and not a clvmodels run folder",
    ),
    "out is the working directory": Case(
        {"c.yaml": _config(), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "{tmp}"),
        r"is the working directory",
    ),
    "out is .": Case(
        {"c.yaml": _config(), "tx.csv": TX}, ("fit", "c.yaml", "--out", "."), r"working directory"
    ),
    "out is ..": Case(
        {"c.yaml": _config(), "tx.csv": TX},
        ("fit", "c.yaml", "--out", ".."),
        r"holding the working directory",
    ),
    "out is the root": Case(
        {"c.yaml": _config(), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "/"),
        r"is a filesystem root",
    ),
    "out is the home folder": Case(
        {"c.yaml": _config(), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "~"),
        r"--out ~: is the home folder",
    ),
    "out is a file": Case(
        {"c.yaml": _config(), "tx.csv": TX, "report.txt": "mine"},
        ("fit", "c.yaml", "--out", "report.txt"),
        r"--out report\.txt: is a file, not a folder",
    ),
    "out holds the data": Case(
        {"c.yaml": _config(data="data: {source: input/tx.csv}"), "input/tx.csv": TX},
        ("fit", "c.yaml", "--out", "input"),
        r"--out input: holds input/tx\.csv, which this command reads",
    ),
    "out holds the config": Case(
        {"conf/c.yaml": _config(data="data: {source: ../tx.csv}"), "tx.csv": TX},
        ("fit", "conf/c.yaml", "--out", "conf"),
        r"--out conf: holds conf/c\.yaml",
    ),
    "out inside the input folder": Case(
        {"c.yaml": _config(data="data: {source: logs}"), "logs/part.csv": TX},
        ("fit", "c.yaml", "--out", "logs/run"),
        r"is inside the input folder logs",
    ),
    "out is the output.dir of the config and not a run": Case(
        {"c.yaml": _config(output="output: {dir: mine}"), "tx.csv": TX, "mine/a.txt": "x"},
        ("fit", "c.yaml"),
        r"output\.dir mine: is not empty and not a clvmodels run folder",
    ),
    "run folder with a foreign file": Case(
        {"c.yaml": _config(), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "old"),
        r"--out old: holds files no run wrote \(notes\.txt\)",
        setup=_make_run_folder,
    ),
    "run folder whose manifest lists no files": Case(
        {"c.yaml": _config(), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "old"),
        r"--out old: its manifest\.json has no valid list of the files a run wrote",
        setup=lambda tmp: _make_run_folder(tmp, {"clvmodels_run": 1}),
    ),
    "run folder whose manifest files are not a list": Case(
        {"c.yaml": _config(), "tx.csv": TX},
        ("fit", "c.yaml", "--out", "old"),
        r"--out old: its manifest\.json has no valid list of the files a run wrote",
        setup=lambda tmp: _make_run_folder(tmp, {"clvmodels_run": 1, "files": "notes.txt"}),
    ),
    "out is a symbolic link": Case(
        {"c.yaml": _config(), "tx.csv": TX, "real/.keep": ""},
        ("fit", "c.yaml", "--out", "link"),
        r"--out link: is a symbolic link",
        setup=_link("link", "real"),
    ),
}
"""The rules of the output folder, run with ``fit``; the corpus runs each with
``summarize`` too (named ``summarize: <case>``), whose folder follows the same rules."""

CASES |= {
    **OUTPUT_FOLDER,
    **{
        f"summarize: {name}": dataclasses.replace(case, argv=("summarize", *case.argv[1:]))
        for name, case in OUTPUT_FOLDER.items()
    },
    "summarize over its input": _summarize_case(
        "out",
        r"holds out/summary\.csv, which this command reads",
        files={"out/summary.csv": TX},
        data="out/summary.csv",
    ),
    "summarize over a summary.csv of the user's": _summarize_case(
        "mine", r"is not empty and not a clvmodels run folder", files={"mine/summary.csv": "x"}
    ),
    "summarize over the run of a fit": _summarize_case(
        "old",
        r"holds a run of clvmodels fit",
        setup=lambda tmp: _make_run_folder(
            tmp, {"clvmodels_run": 1, "files": ["manifest.json", "notes.txt"]}
        ),
    ),
    "spark summarize into ..": _summarize_case(
        "..", r"is a folder holding the working directory", engine="spark"
    ),
    "spark summarize over a folder of the user's with a dataset": _summarize_case(
        "mine",
        r"is not empty and not a clvmodels run folder",
        files={"mine/notes.txt": "x", "mine/summary.parquet/_SUCCESS": ""},
        engine="spark",
    ),
    # ------------------------------------------------------------------ models
    "identical histories": Case(
        {
            "c.yaml": "name: same\ndata: {source: same.csv, kind: summary, time_unit: W}\n"
            "models: {paretonbd: {}}\n",
            "same.csv": "customer_id,frequency,recency,T\n"
            + "".join(f"{i},2,20.0,39.0\n" for i in range(300)),
        },
        ("fit", "c.yaml", "--out", "run"),
        r"paretonbd: the data do not pin down [a-z, ]*\bs\b[a-z, ]* \(the log-likelihood is "
        r"flat .*backend: bayes",
    ),
    # ------------------------------------------------------------------ the output file
    "predict over its data": _predict_case("data.csv", r"is data\.csv, which this command reads"),
    "predict over its data with --overwrite": _predict_case(
        "data.csv", r"is data\.csv, which this command reads", options=("--overwrite",)
    ),
    "predict into a folder": _predict_case("scores", r"is a folder", files={"scores/a": ""}),
    "predict over a csv of the user's": _predict_case(
        "notes.csv",
        r"exists; predict replaces an existing file only with --overwrite",
        files={"notes.csv": "a\n"},
    ),
    "predict over a file in a folder of the user's": _predict_case(
        "mine/s.csv", r"exists", files={"mine/s.csv": "a\n"}
    ),
    "predict over the config": _predict_case(
        "c.yaml", r"give a file name ending in \.csv or \.parquet", files={"c.yaml": _config()}
    ),
    "predict into a symbolic link": _predict_case(
        "s.csv",
        r"is a symbolic link",
        files={"notes.csv": "a\n"},
        setup=_link("s.csv", "notes.csv"),
    ),
    "predict into the root": _predict_case("/scores.csv", r"is in a filesystem root"),
    # ------------------------------------------------------------------ model files
    "model not json": Case(
        {"model.json": "not json", "data.csv": "frequency,recency,T\n1,2,3\n"},
        ("predict", "model.json", "data.csv", "--out", "s.csv"),
        r"model\.json: not a readable JSON model file",
    ),
    "model of another kind": Case(
        {"model.json": json.dumps({"format": 1}), "data.csv": "frequency,recency,T\n1,2,3\n"},
        ("predict", "model.json", "data.csv", "--out", "s.csv"),
        r"model\.json: (not a clvmodels model file|saved by)",
    ),
    "missing model": Case(
        {"data.csv": "frequency,recency,T\n1,2,3\n"},
        ("predict", "nope.json", "data.csv", "--out", "s.csv"),
        r"nope\.json: no such model file",
    ),
    "report of a non-run folder": Case(
        {"folder/a.txt": "x"}, ("report", "folder"), r"folder: not a clvmodels run folder"
    ),
    "report of a summarize folder": Case(
        {
            "folder/manifest.json": json.dumps(
                {"clvmodels_run": 1, "command": "summarize", "files": ["manifest.json"]}
            )
        },
        ("report", "folder"),
        r"folder: written by clvmodels summarize, which makes no report",
    ),
    "report of a folder with a foreign manifest": Case(
        {"folder/manifest.json": '{"name": "x"}'},
        ("report", "folder"),
        r"folder: not a clvmodels run folder",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_a_one_line_error_that_touches_nothing(name, tmp_path, capsys):
    check_case(CASES[name], tmp_path, capsys)


def test_the_corpus_is_at_least_thirty_cases():
    assert len(CASES) >= 30
