"""Helpers for tests that run the main job (imported by the test modules)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cdnow_config(folder: Path, draws: int = 30) -> Path:
    """configs/cdnow.yaml with fewer parameter draws (faster intervals), in ``folder``."""
    text = (REPO / "configs/cdnow.yaml").read_text()
    path = folder / "cdnow.yaml"
    path.write_text(text.replace("  margin: 1.0\n", f"  margin: 1.0\n  draws: {draws}\n"))
    return path
