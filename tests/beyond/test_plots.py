"""Figures of the beyond stores (quadsgd.plots.beyond): drawn from the stores alone."""

from __future__ import annotations

import pytest

from quadsgd.plots.beyond import FIGURES


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_store_has_a_figure_with_data(name, request):
    store = request.getfixturevalue({"phase_diagram": "phase_store"}.get(name, f"{name}_store"))
    fig = FIGURES[name](store)
    axes = fig.get_axes()
    assert axes and all(ax.get_xlabel() for ax in axes)
    assert sum(len(ax.lines) + len(ax.collections) + len(ax.patches) for ax in axes) > 0
    fig.canvas.draw()  # every artist renders


@pytest.mark.parametrize("part", sorted(FIGURES))
def test_report_caption_renders_for_every_part(part):
    """The report caption (a Jinja template, as Snakemake renders it) names the part's settings."""
    from pathlib import Path
    from types import SimpleNamespace

    import jinja2
    import yaml

    root = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    template = jinja2.Template((root / "workflow" / "report" / "beyond_figures.rst").read_text())
    text = template.render(snakemake=SimpleNamespace(wildcards=SimpleNamespace(beyond_part=part), config=config))
    heading = {"escape_law": "Finite-N escape law", "eta_opt_sgd": "eta_opt from finite-N SGD",
               "phase_diagram": "Finite-eta phase diagram", "noise": "Label noise", "narrow": "Narrow students"}[part]
    assert text.startswith(f"**{heading}") and "{{" not in text
