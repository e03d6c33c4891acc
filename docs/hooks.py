"""MkDocs hooks: pages generated at build time from the repository, never committed.

* ``reference/config.md`` — :func:`clvmodels.config.reference.config_reference`, built from
  the config schema's dataclasses, so the reference cannot drift from the code;
* ``reference/template.md`` — ``configs/template.yaml`` as one code block;
* ``notebooks/<name>.ipynb`` — the notebooks of ``notebooks/`` (stored with their outputs;
  mkdocs-jupyter renders them without executing them);
* ``assets/report_screenshot.png`` — the report picture of the README.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TEMPLATE = ROOT / "configs" / "template.yaml"
SCREENSHOT = ROOT / "reports" / "report_screenshot.png"


def _config_page() -> str:
    from clvmodels.config.reference import config_reference  # only the config package

    return config_reference()


def _template_page() -> str:
    return (
        "# Config template\n\n"
        "`configs/template.yaml`: every key with its default and a comment; copy it and "
        "delete what you do not need. The [config reference](config.md) describes each key.\n\n"
        "```yaml\n" + TEMPLATE.read_text(encoding="utf-8") + "```\n"
    )


@event_priority(100)  # before mkdocs-jupyter, which picks up the .ipynb files
def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, "reference/config.md", content=_config_page()))
    files.append(File.generated(config, "reference/template.md", content=_template_page()))
    files.append(
        File.generated(config, "assets/report_screenshot.png", abs_src_path=str(SCREENSHOT))
    )
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        # a real file under the repository root (not File.generated): mkdocs-jupyter's
        # wrapper reads the path from src_dir + src_uri
        files.append(
            File(
                f"notebooks/{notebook.name}",
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files


def on_serve(server, config, builder):
    """``mkdocs serve`` rebuilds when the schema, the template or a notebook changes."""
    for path in (ROOT / "clvmodels" / "config", TEMPLATE, NOTEBOOKS):
        server.watch(str(path))
    return server
