"""The documentation site (issue 19): the config reference generated from the schema's
dataclasses and their numpy ``Attributes`` sections, the strict MkDocs build (warnings
are errors, as `make docs`), and the README's links into docs/."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from clvmodels.config import RunConfig
from clvmodels.config.reference import attribute_entries, config_reference

REPO = Path(__file__).resolve().parents[1]


def _blocks(cls: type, seen: set[type]) -> set[type]:
    """Every config dataclass reachable from ``cls``."""
    seen.add(cls)
    for hint in typing.get_type_hints(cls).values():
        for arg in [
            hint,
            *typing.get_args(hint),
            *sum(map(typing.get_args, typing.get_args(hint)), ()),
        ]:
            if dataclasses.is_dataclass(arg) and arg not in seen:
                _blocks(arg, seen)
    return seen


def test_every_field_of_every_config_block_has_an_entry():
    blocks = _blocks(RunConfig, set())
    assert len(blocks) >= 15
    for block in blocks:
        entries = attribute_entries(block)  # raises when one is missing
        assert all(len(text) > 10 for text in entries.values()), block


def test_the_reference_names_nested_keys_with_type_default_and_meaning():
    text = config_reference()
    rows = {
        line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `")
    }
    for key in (
        "name",
        "data.source.sql",
        "data.covariates.source",
        "models.<key>.penalty",
        "data.dynamic_covariates.calendar.campaigns",
        "evaluation.backtest.origins",
        "clv.horizon",
        "spark.master",
    ):
        assert f"`{key}`" in rows, key
    assert "| `clv.discount_rate` | number | `0.1` | Effective yearly rate" in text
    assert "| `name` | text | required |" in text
    assert "| `output.formats` | list of `csv` / `parquet` | `[csv]` |" in text
    assert "``" not in text and ":mod:" not in text  # reStructuredText turned into markdown


def test_a_field_without_an_entry_or_an_entry_without_a_field_is_an_error():
    @dataclasses.dataclass(frozen=True)
    class Undocumented:
        """A block.

        Attributes
        ----------
        horizon
            Documented.
        """

        horizon: float = 1.0
        margin: float = 1.0

    with pytest.raises(ValueError, match="no entry for margin"):
        config_reference(Undocumented)

    @dataclasses.dataclass(frozen=True)
    class Stale:
        """A block.

        Attributes
        ----------
        horizon
            Documented.
        gone
            A key that was removed.
        """

        horizon: float = 1.0

    with pytest.raises(ValueError, match="documents gone, which is no field"):
        config_reference(Stale)


def test_the_readme_links_into_docs_resolve():
    readme = (REPO / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+)\)", readme)
    local = [t for t in targets if not t.startswith("http")]
    assert any(t.startswith("docs/") for t in local)
    for target in local:
        assert (REPO / target).exists(), target


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    config_page = (site / "reference" / "config" / "index.html").read_text()
    assert "models.&lt;key&gt;.penalty" in config_page and "data.covariates.source" in config_page
    assert "clvmodels.clv.customer_values" in (site / "reference/api/clv/index.html").read_text()
    assert (site / "notebooks" / "quickstart_noncontractual" / "index.html").exists()
    assert (site / "assets" / "report_screenshot.png").exists()
