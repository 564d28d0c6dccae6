"""The report: every finding of the executed notebooks in one machine-readable file and a static site that sets each
beside the study (``build/results.json``, ``build/site/index.html``; the README's main command builds them).

* ``results.json`` merges the notebooks' :class:`~dcirc_utils.report.results.Results` files: one record per finding
  (notebook, pair, id, the study's claim, the study's figure and its source, this run's figure, the verdict) and the
  values each notebook recorded.
* ``site/index.html`` is the one hand-written page (a summary table and the study-vs-ours figures the notebooks
  saved); every executed notebook is rendered by nbconvert's ``lab`` template into ``site/notebooks/NN_*.html``.
* The site works offline: formulas are typeset by a local copy of MathJax 3 (its one-file TeX → SVG bundle, from
  npm: :func:`find_mathjax`; without it the LaTeX source shows), the scripts nbconvert would load from a CDN
  (require.js, MathJax 2, mermaid) are left out, and an output that loads a script from a CDN (the circuitsvis
  view) is replaced by a note pointing to its static figure.
"""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Sequence

from ..core.paths import REPO_ROOT
from .results import COURSE_WORDS, VERDICTS, Results, results_dir

__all__ = ["collect_results", "render_notebook", "build_site", "notebook_problem"]

_CDN_SCRIPT = re.compile(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', re.I)
_EMPTY_SCRIPT = re.compile(r'<script src="">\s*</script>', re.I)
_MATHJAX_CONFIG = ("<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: "
                   "[['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true, processEnvironments: true}, "
                   "svg: {fontCache: 'global'}};</script>")
#: MathJax 3's single-file TeX → SVG bundle (glyphs inside the file: nothing else is fetched), from npm
MATHJAX_NPM = "mathjax@3.2.2"


def find_mathjax(fetch: bool = True) -> Path | None:
    """MathJax 3's ``tex-svg.js`` for the site: ``$DCIRC_MATHJAX``, else ``build/mathjax/package/es5/tex-svg.js``,
    else (``fetch``) ``npm pack`` of :data:`MATHJAX_NPM` into ``build/mathjax`` when npm is installed. ``None``
    when none works: the pages then show the LaTeX source of the formulas (readable, not typeset)."""
    import os
    import subprocess
    import tarfile
    env = os.environ.get("DCIRC_MATHJAX")
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"DCIRC_MATHJAX={env!r} is not a file: point it at MathJax 3's es5/tex-svg.js")
        return Path(env)
    folder = REPO_ROOT / "build" / "mathjax"
    target = folder / "package" / "es5" / "tex-svg.js"
    if target.exists() or not fetch or shutil.which("npm") is None:
        return target if target.exists() else None
    folder.mkdir(parents=True, exist_ok=True)
    try:
        name = subprocess.run(["npm", "pack", MATHJAX_NPM, "--silent"], cwd=folder, capture_output=True, text=True,
                              timeout=300, check=True).stdout.strip().splitlines()[-1]
        with tarfile.open(folder / name) as tar:
            tar.extract("package/es5/tex-svg.js", folder, filter="data")
    except (subprocess.SubprocessError, OSError, KeyError, IndexError, tarfile.TarError) as err:
        print(f"MathJax not available ({type(err).__name__}); formulas are shown as LaTeX source")
        return None
    return target if target.exists() else None


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


def render_notebook(path: str | Path, mathjax_src: str | None = None, banner: str = "") -> str:
    """One executed notebook as a standalone HTML page that loads nothing from the network (``mathjax_src``: the
    relative URL of MathJax 3's ``tex-svg.js``, or ``None`` to leave the formulas as LaTeX source; ``banner``: a
    warning shown at the top, e.g. the cell where the notebook failed)."""
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
    exporter = HTMLExporter(template_name="lab", mathjax_url="", require_js_url="")
    body, _ = exporter.from_notebook_node(nb)
    body = _EMPTY_SCRIPT.sub("", _CDN_SCRIPT.sub("", body))
    # nbconvert's MathJax 2 configuration and its mermaid loader (both would reach for a CDN or MathJax 2)
    body = re.sub(r'<script type="text/x-mathjax-config">.*?</script>', "", body, flags=re.S)
    body = re.sub(r'<script type="module">.*?</script>', "", body, flags=re.S)
    head = '<head>\n<link rel="icon" href="data:,">'                      # no favicon request
    if mathjax_src:
        head += f'\n{_MATHJAX_CONFIG}\n<script id="MathJax-script" async src="{mathjax_src}"></script>'
    body = body.replace("<head>", head, 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + _banner(banner), body, count=1) if banner else body


def _banner(text: str) -> str:
    """A warning box (``text`` is escaped) that no stylesheet can hide."""
    return (f'<div class="dcirc-banner" role="alert" style="background:#fdecea;border:2px solid #b3261e;color:#5f1410;'
            f'padding:0.8em 1em;margin:1em;font-family:system-ui,sans-serif;font-weight:600;white-space:pre-wrap">'
            f'{html.escape(text)}</div>')


def notebook_problem(name: str, record: dict) -> str:
    """What stopped a notebook of the run (its record in ``status.json``), in words; ``""`` when it ran to the
    end."""
    where = f" at cell {record['cell']} (`{record['source']}`)" if record.get("cell") is not None else ""
    if record["status"] == "failed":
        return f"{name} failed{where}: {record['error']}: {record['message']}"
    if record["status"] == "interrupted":
        return f"{name} was interrupted ({record.get('signal', 'SIGINT')}){where}; its outputs stop there"
    return ""


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Distilled Circuits: report</title><link rel="icon" href="data:,">
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
{banner}<h1>Distilled Circuits: the study's claims on {pairs}</h1>
<p>The first table holds the claims of the study (arXiv 2505.10822), the second the course's own checks (controls
and properties the study did not test, never counted as reproductions). Each row gives the study's figure and source,
the figure this run computed, the pair that produced it and a verdict computed by the notebook that tested it:
<span class="reproduced">reproduced</span>, <span class="differs">differs</span> or
<span class="not-computable">not computable</span> on this pair (a course check reads
<span class="reproduced">holds</span> or <span class="differs">does not hold</span>).
Counts (study claims): {counts}. Machine-readable: <a href="results.json">results.json</a>.</p>
<h2>Notebooks</h2><ul>{notebook_links}</ul>
<h2>The study's claims</h2>
<table><thead><tr><th>notebook</th><th>claim</th><th>study</th><th>this run</th><th>pair</th><th>verdict</th>
<th>note</th></tr></thead><tbody>
{rows}
</tbody></table>
<h2>The course's own checks</h2>
<table><thead><tr><th>notebook</th><th>check</th><th>study</th><th>this run</th><th>pair</th><th>verdict</th>
<th>note</th></tr></thead><tbody>
{course_rows}
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
               out: str | Path | None = None, status: dict | None = None) -> Path:
    """Write ``<out>/index.html``, ``<out>/notebooks/*.html``, ``<out>/results.json`` and the figures (notebooks'
    ``build/notebooks/``, results' ``build/results/``, out ``build/site/`` by default). Returns the index path.

    ``status``: the run's ``status.json`` (``report.course``); when its ``state`` is not ``"complete"`` the index
    page and every notebook that failed or was interrupted carry a banner saying so (notebook, cell, error), and
    ``results.json`` holds it under ``"run"``.

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
    mj = find_mathjax()
    if mj is not None:
        (out / "assets").mkdir(exist_ok=True)
        shutil.copy(mj, out / "assets" / "tex-svg.js")
    records = (status or {}).get("notebooks", {})
    problems = {p.name: notebook_problem(p.stem, records[p.name]) for p in paths if p.name in records}
    links = []
    for p in paths:
        problem = problems.get(p.name, "")
        page = render_notebook(p, "../assets/tex-svg.js" if mj is not None else None, problem)
        (out / "notebooks" / f"{p.stem}.html").write_text(page)
        note = f" — <strong>{html.escape(records[p.name]['status'])}</strong>" if problem else ""
        links.append(f'<li><a href="notebooks/{p.stem}.html">{html.escape(p.stem)}</a>{note}</li>')
    data = collect_results(results)
    if status is not None:
        data["run"] = status
    (out / "results.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    res_dir = Path(results) if results else results_dir()
    figs = []
    for name in data["figures"]:
        shutil.copy(res_dir / name, out / name)
        figs.append(f'<figure><img src="{html.escape(name)}" alt="{html.escape(name)}">'
                    f'<figcaption>{html.escape(name[:-4])}</figcaption></figure>')
    stems = {p.stem[:2]: p.stem for p in paths}
    rows, course_rows = [], []
    for f in data["findings"]:
        nb = stems.get(f["notebook"], "")
        link = f'<a href="notebooks/{nb}.html">{f["notebook"]}</a>' if nb else f["notebook"]
        cls = f["verdict"].replace(" ", "-")
        shown = f["verdict"] if f.get("kind", "study") == "study" else COURSE_WORDS[f["verdict"]]
        (rows if f.get("kind", "study") == "study" else course_rows).append(
            f"<tr><td>{link}</td><td>{html.escape(f['claim'])}</td><td>{html.escape(_fmt(f['study']))}"
            f"<br><small>{html.escape(f['source'])}</small></td><td>{html.escape(_fmt(f['ours']))}</td>"
            f"<td>{html.escape(f['pair'])}</td><td class=\"{cls}\">{shown}</td>"
            f"<td><small>{html.escape(f['note'])}</small></td></tr>")
    study = [f for f in data["findings"] if f.get("kind", "study") == "study"]
    counts = ", ".join(f"{v} {sum(1 for f in study if f['verdict'] == v)}" for v in VERDICTS)
    index = out / "index.html"
    banner = ""
    if status is not None and status.get("state") != "complete":
        banner = _banner("\n".join([f"This run is {status['message']}."] + [t for t in problems.values() if t]))
    index.write_text(_PAGE.format(banner=banner, pairs=html.escape(", ".join(data["pairs"]) or "no pair"),
                                  counts=counts, notebook_links="".join(links), rows="\n".join(rows),
                                  course_rows="\n".join(course_rows),
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
