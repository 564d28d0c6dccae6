"""The report: every finding of the executed notebooks in one machine-readable file and a static site that sets each
beside the study (``build/results.json``, ``build/site/index.html``; the README's main command builds them).

* ``results.json`` merges the notebooks' :class:`~dcirc_utils.report.results.Results` files: one record per finding
  (notebook, pair, id, the study's claim, the study's figure and its source, this run's figure, the verdict) and the
  values each notebook recorded.
* ``site/index.html`` is the one hand-written page (a summary table and the study-vs-ours figures the notebooks
  saved); every executed notebook is rendered by nbconvert's ``lab`` template into ``site/notebooks/NN_*.html``.
* The site works offline: MathJax is served from a local copy (the ``jupyter-server-mathjax`` package), the
  require.js tag nbconvert would load from a CDN is left out (nothing in the notebooks needs it), and an output
  that loads a script from a CDN (the circuitsvis view) is replaced by a note pointing to its static figure.
"""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Sequence

from ..core.paths import REPO_ROOT
from .results import VERDICTS, Results, results_dir

__all__ = ["collect_results", "render_notebook", "build_site"]

_CDN_SCRIPT = re.compile(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', re.I)
_EMPTY_SCRIPT = re.compile(r'<script src="">\s*</script>', re.I)
_MATHJAX = "assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"


def collect_results(folder: str | Path | None = None) -> dict:
    """Merge every ``<notebook>.json`` of :func:`~dcirc_utils.report.results.results_dir` into one record.

    Returns:
        ``{"findings": [...], "values": {notebook: {...}}, "pairs": [...], "counts": {verdict: n}}``; each finding
        has its ``notebook`` and ``pair``.
    """
    folder = Path(folder) if folder else results_dir()
    findings, values, pairs = [], {}, set()
    for path in sorted(folder.glob("[0-9][0-9].json")):
        r = Results.load(path)
        pairs.add(r.pair)
        values[r.notebook] = r.values
        for f in r.findings:
            findings.append({"notebook": r.notebook, "pair": r.pair, **f.__dict__})
    counts = {v: sum(1 for f in findings if f["verdict"] == v) for v in VERDICTS}
    return {"findings": findings, "values": values, "pairs": sorted(pairs), "counts": counts,
            "figures": sorted(p.name for p in folder.glob("*.png"))}


def _mathjax_dir() -> Path | None:
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def render_notebook(path: str | Path, mathjax: bool = True) -> str:
    """One executed notebook as a standalone HTML page that loads nothing from the network."""
    import nbformat
    from nbconvert import HTMLExporter
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            page = data.get("text/html", "")
            page = page if isinstance(page, str) else "".join(page)
            if "unpkg.com" in page or "cdn.jsdelivr" in page:
                data["text/html"] = ("<p><em>An interactive view that loads its script from the web was here; the "
                                     "static figure next to it shows the same data.</em></p>")
    exporter = HTMLExporter(template_name="lab", mathjax_url=_MATHJAX if mathjax else "", require_js_url="")
    body, _ = exporter.from_notebook_node(nb)
    body = _EMPTY_SCRIPT.sub("", _CDN_SCRIPT.sub("", body))
    if not mathjax:
        body = re.sub(r'<script[^>]*mathjax[^>]*>.*?</script>', "", body, flags=re.I | re.S)
    return body


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Distilled Circuits: report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.92em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.35em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }}
.reproduced {{ color: #1b7f3b; font-weight: 600; }} .differs {{ color: #b3261e; font-weight: 600; }}
.not-computable {{ color: #777; font-weight: 600; }}
figure {{ display: inline-block; margin: 0.5em; max-width: 46%; vertical-align: top; }}
figure img {{ max-width: 100%; border: 1px solid #eee; }}
</style></head><body>
<h1>Distilled Circuits: the study's claims on {pairs}</h1>
<p>Every row is a claim of the study (arXiv 2505.10822), its figure and source, the figure this run computed and a
verdict computed by the notebook that tested it: <span class="reproduced">reproduced</span>,
<span class="differs">differs</span> or <span class="not-computable">not computable</span> on this pair.
Counts: {counts}. Machine-readable: <a href="results.json">results.json</a>.</p>
<h2>Notebooks</h2><ul>{notebook_links}</ul>
<h2>Claims</h2>
<table><thead><tr><th>notebook</th><th>claim</th><th>study</th><th>this run</th><th>pair</th><th>verdict</th>
<th>note</th></tr></thead><tbody>
{rows}
</tbody></table>
<h2>Figures</h2>
{figures}
</body></html>
"""


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "—" if v is None else str(v)


def build_site(notebooks: str | Path | None = None, results: str | Path | None = None,
               out: str | Path | None = None) -> Path:
    """Write ``<out>/index.html``, ``<out>/notebooks/*.html``, ``<out>/results.json`` and the figures (notebooks'
    ``build/notebooks/``, results' ``build/results/``, out ``build/site/`` by default). Returns the index path.

    Raises:
        FileNotFoundError: if there is no executed notebook to render (run the course first).
    """
    notebooks = Path(notebooks) if notebooks else REPO_ROOT / "build" / "notebooks"
    out = Path(out) if out else REPO_ROOT / "build" / "site"
    paths = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no executed notebooks in {notebooks}: run `python -m dcirc_utils.report.course` "
                                "first")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    mj = _mathjax_dir()
    if mj is not None and not (out / "assets" / "mathjax").exists():
        shutil.copytree(mj, out / "assets" / "mathjax")
    links = []
    for p in paths:
        page = render_notebook(p, mathjax=mj is not None)
        if mj is not None:
            page = page.replace(_MATHJAX, "../" + _MATHJAX)
        (out / "notebooks" / f"{p.stem}.html").write_text(page)
        links.append(f'<li><a href="notebooks/{p.stem}.html">{html.escape(p.stem)}</a></li>')
    data = collect_results(results)
    (out / "results.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    res_dir = Path(results) if results else results_dir()
    figs = []
    for name in data["figures"]:
        shutil.copy(res_dir / name, out / name)
        figs.append(f'<figure><img src="{html.escape(name)}" alt="{html.escape(name)}">'
                    f'<figcaption>{html.escape(name[:-4])}</figcaption></figure>')
    stems = {p.stem[:2]: p.stem for p in paths}
    rows = []
    for f in data["findings"]:
        nb = stems.get(f["notebook"], "")
        link = f'<a href="notebooks/{nb}.html">{f["notebook"]}</a>' if nb else f["notebook"]
        cls = f["verdict"].replace(" ", "-")
        rows.append(f"<tr><td>{link}</td><td>{html.escape(f['claim'])}</td><td>{html.escape(_fmt(f['study']))}"
                    f"<br><small>{html.escape(f['source'])}</small></td><td>{html.escape(_fmt(f['ours']))}</td>"
                    f"<td>{html.escape(f['pair'])}</td><td class=\"{cls}\">{f['verdict']}</td>"
                    f"<td><small>{html.escape(f['note'])}</small></td></tr>")
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
    index = out / "index.html"
    index.write_text(_PAGE.format(pairs=html.escape(", ".join(data["pairs"]) or "no pair"), counts=counts,
                                  notebook_links="".join(links), rows="\n".join(rows),
                                  figures="".join(figs) or "<p>No figure was saved.</p>"))
    return index


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dcirc_utils.report.site``: rebuild the site from ``build/notebooks`` and ``build/results``."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m dcirc_utils.report.site", description=__doc__.split("\n")[0])
    ap.add_argument("--notebooks", default=None)
    ap.add_argument("--results", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    print(build_site(args.notebooks, args.results, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
