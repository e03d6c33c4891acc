"""A corpus of malformed and hostile configs, outputs and model files, each run through
the command line by the harness of tests/hostile.py (exit 2, one line naming the
problem, no traceback, nothing touched); tests/test_hostile_data.py holds the data
files."""

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
    "billion laughs": Case({"c.yaml": _laughs()}, ("validate", "c.yaml"), r"more than 100 aliases"),
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
