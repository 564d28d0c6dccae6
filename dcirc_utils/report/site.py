"""The report: every finding of the executed notebooks in one machine-readable file and a static site that sets each
beside the study (``build/results.json``, ``build/site/index.html``; the README's main command builds them).

* ``results.json`` merges the notebooks' :class:`~dcirc_utils.report.results.Results` files: one record per finding
  (notebook, pair, id, kind, the study's claim, the study's figure and its source, this run's figure, its spread over
  prompt sets, the control, the rule, the verdict and its reason) and the values each notebook recorded; ``counts``
  counts the study's claims per verdict (the course's checks in ``counts_course``, the sanity checks, never part of
  the reproduction, in ``counts_sanity``).
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
from ..core.settings import Settings
from .results import COURSE_WORDS, VERDICTS, Results, results_dir

__all__ = ["collect_results", "render_notebook", "build_site", "notebook_problem"]

_CDN_SCRIPT = re.compile(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', re.I)
_EMPTY_SCRIPT = re.compile(r'<script src="">\s*</script>', re.I)
_MATHJAX_CONFIG = ("<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: "
                   "[['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true, processEnvironments: true}, "
                   "svg: {fontCache: 'global'}};</script>")
#: MathJax 3's single-file TeX → SVG bundle (glyphs inside the file: nothing else is fetched), from npm
MATHJAX_NPM = "mathjax@3.2.2"


def find_mathjax(fetch: bool = True, settings: Settings | None = None) -> Path | None:
    """MathJax 3's ``tex-svg.js`` for the site: ``$DCIRC_MATHJAX``, else ``build/mathjax/package/es5/tex-svg.js``,
    else (``fetch``) ``npm pack`` of :data:`MATHJAX_NPM` into ``build/mathjax`` when npm is installed. ``None``
    when none works: the pages then show the LaTeX source of the formulas (readable, not typeset)."""
    import subprocess
    import tarfile
    env = (Settings.from_env() if settings is None else settings).mathjax
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
        ``{"findings": [...], "values": {notebook: {...}}, "pairs": [...], "counts": {verdict: n},
        "counts_course": {verdict: n}, "counts_sanity": {verdict: n}, "figures": [...]}``; each finding has its
        ``notebook`` and ``pair``. ``counts`` counts the study's claims only (kind ``"study"``): the course's own
        checks are counted apart and the sanity checks (true by construction) are never part of the reproduction.
    """
    from ..models.pairs import is_stand_in
    folder = Path(folder) if folder else results_dir()
    findings, values, pairs = [], {}, set()
    for path in sorted(folder.glob("[0-9][0-9].json")):
        r = Results.load(path)
        pairs.add(r.pair)
        values[r.notebook] = r.values
        for f in r.findings:
            # a file written before findings named their pair: the notebook's pair, and whether it is a stand-in
            pair = f.pair or r.pair
            stand_in = is_stand_in(pair) if f.stand_in is None else f.stand_in
            findings.append({**f.__dict__, "notebook": r.notebook, "pair": pair, "stand_in": bool(stand_in)})
    return {"findings": findings, "values": values, "pairs": sorted(pairs), "counts": _counts(findings, "study"),
            "counts_course": _counts(findings, "course"), "counts_sanity": _counts(findings, "sanity"),
            "figures": sorted(p.name for p in folder.glob("*.png"))}


def _kind(f: dict) -> str:
    return f.get("kind") or "study"


def _counts(findings: list[dict], kind: str) -> dict:
    """How many findings of ``kind`` have each verdict (every one of :data:`VERDICTS`, zeros included)."""
    return {v: sum(1 for f in findings if _kind(f) == kind and f.get("verdict") == v) for v in VERDICTS}


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
body {{ font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.35em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }}
.reproduced {{ color: #1b7f3b; font-weight: 600; }} .differs {{ color: #b3261e; font-weight: 600; }}
.inconclusive {{ color: #a86800; font-weight: 600; }} .not-computable {{ color: #777; font-weight: 600; }}
td small.reason {{ display: block; color: #444; font-weight: normal; margin-top: 0.2em; }}
figure {{ display: inline-block; margin: 0.5em; max-width: 46%; vertical-align: top; }}
figure img {{ max-width: 100%; border: 1px solid #eee; }}
</style></head><body>
{banner}<h1>Distilled Circuits: the study's claims on {pairs}</h1>
<p>The first table holds the claims of the study (arXiv 2505.10822), the second the course's own checks (controls
and properties the study did not test, never counted as reproductions), the third the sanity checks (true by
construction: they test the code, not the science; never counted). Each row gives the study's figure and source, the
figure this run computed, its spread over disjoint prompt sets, the control it must beat, the rule that tests it, the
pair that produced it and a verdict computed by the notebook that tested it, with its reason:
<span class="reproduced">reproduced</span> (the rule holds on every prompt set and the claim beats its control),
<span class="differs">differs</span>, <span class="inconclusive">inconclusive</span> (the spread straddles the rule
or the control, or there is no spread or control yet) or <span class="not-computable">not computable</span> on this
pair (a course check reads <span class="reproduced">holds</span> or <span class="differs">does not hold</span>).
Counts (study claims): {counts}. Machine-readable: <a href="results.json">results.json</a>.</p>
<h2>Notebooks</h2><ul>{notebook_links}</ul>
<h2>The study's claims ({n_study}: {counts})</h2>
<table><thead><tr><th>notebook</th><th>claim</th><th>study</th><th>this run</th><th>spread</th><th>control</th>
<th>rule</th><th>pair</th><th>verdict</th><th>note</th></tr></thead><tbody>
{rows}
</tbody></table>
<h2>The course's own checks ({n_course}: {counts_course}; not counted as reproductions)</h2>
<table><thead><tr><th>notebook</th><th>check</th><th>study</th><th>this run</th><th>spread</th><th>control</th>
<th>rule</th><th>pair</th><th>verdict</th><th>note</th></tr></thead><tbody>
{course_rows}
</tbody></table>
<h2>Sanity checks ({n_sanity}; true by construction, never counted)</h2>
{sanity}
<h2>Figures</h2>
{figures}
</body></html>
"""


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return "—" if v is None else str(v)


def _spread_cell(spread: dict | None) -> str:
    """``low…high over n sets`` (escaped), or ``—`` when the finding has no spread."""
    if not spread or not spread.get("n_sets"):
        return "—"
    text = f"{_fmt(spread.get('low'))}…{_fmt(spread.get('high'))} over {spread['n_sets']} sets"
    what = f"<br><small>{html.escape(str(spread['what']))}</small>" if spread.get("what") else ""
    return html.escape(text) + what


def _control_cell(control: dict | list | None) -> str:
    """Each control the claim must beat (one per line, escaped): its name with its figure and its range over the
    sets, ``<name>: none on this pair: <why>`` when the pair has none; ``—`` when the claim has no control. Takes
    a finding's list of :meth:`~dcirc_utils.report.results.Control.as_dict` (or one such dict)."""
    controls = [control] if isinstance(control, dict) else list(control or [])
    parts = []
    for c in controls:
        what = c.get("what") or "control"
        if c.get("value") is None:
            parts.append(f"{what}: none on this pair: {c.get('missing') or 'no reason given'}")
            continue
        text = f"{what}: {_fmt(c['value'])}"
        if c.get("low") is not None and c.get("high") is not None:
            text += f" ({_fmt(c['low'])}…{_fmt(c['high'])})"
        if c.get("beat") in ("above", "below"):
            text += f"; the claim must be {c['beat']} it"
        if c.get("must"):
            text += f"; it must itself be {c['must']}"
        parts.append(text)
    return "<br>".join(html.escape(t) for t in parts) or "—"


def _pair_cell(f: dict) -> str:
    return html.escape(f.get("pair") or "—") + (" (stand-in)" if f.get("stand_in") else "")


def _verdict_cell(f: dict) -> str:
    """The verdict (in the words of the finding's kind, coloured by its CSS class) with its reason in small text."""
    verdict = f.get("verdict", "")
    shown = verdict if _kind(f) == "study" else COURSE_WORDS.get(verdict, verdict)
    reason = f.get("reason") or ""
    small = f'<small class="reason">{html.escape(reason)}</small>' if reason else ""
    return f'<td class="{html.escape(verdict.replace(" ", "-"))}">{html.escape(shown)}{small}</td>'


def _finding_row(f: dict, link: str) -> str:
    """A row of the study's claims or of the course's checks."""
    return (f"<tr><td>{link}</td><td>{html.escape(str(f.get('claim', '')))}</td>"
            f"<td>{html.escape(_fmt(f.get('study')))}<br><small>{html.escape(f.get('source') or '')}</small></td>"
            f"<td>{html.escape(_fmt(f.get('ours')))}</td><td>{_spread_cell(f.get('spread'))}</td>"
            f"<td>{_control_cell(f.get('control'))}</td><td>{html.escape(f.get('rule') or '—')}</td>"
            f"<td>{_pair_cell(f)}</td>{_verdict_cell(f)}"
            f"<td><small>{html.escape(f.get('note') or '')}</small></td></tr>")


def _sanity_row(f: dict, link: str) -> str:
    """A row of the sanity checks (no study figure, spread or control to show)."""
    return (f"<tr><td>{link}</td><td>{html.escape(str(f.get('claim', '')))}</td>"
            f"<td>{html.escape(_fmt(f.get('ours')))}</td><td>{_pair_cell(f)}</td>{_verdict_cell(f)}"
            f"<td><small>{html.escape(f.get('note') or '')}</small></td></tr>")


def _count_text(counts: dict, words: dict | None = None) -> str:
    return ", ".join(f"{(words or {}).get(v, v)} {counts.get(v, 0)}" for v in VERDICTS)


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
    rows = {kind: [] for kind in ("study", "course", "sanity")}
    for f in data["findings"]:
        nb = stems.get(f["notebook"], "")
        link = f'<a href="notebooks/{nb}.html">{html.escape(f["notebook"])}</a>' if nb else html.escape(f["notebook"])
        kind = _kind(f) if _kind(f) in rows else "study"
        rows[kind].append((_sanity_row if kind == "sanity" else _finding_row)(f, link))
    counts = _count_text(data["counts"])
    sanity = ("<table><thead><tr><th>notebook</th><th>check</th><th>this run</th><th>pair</th><th>verdict</th>"
              "<th>note</th></tr></thead><tbody>\n" + "\n".join(rows["sanity"]) + "\n</tbody></table>"
              if rows["sanity"] else "<p>No sanity check was recorded.</p>")
    index = out / "index.html"
    banner = ""
    if status is not None and status.get("state") != "complete":
        banner = _banner("\n".join([f"This run is {status['message']}."] + [t for t in problems.values() if t]))
    index.write_text(_PAGE.format(banner=banner, pairs=html.escape(", ".join(data["pairs"]) or "no pair"),
                                  counts=counts, counts_course=_count_text(data["counts_course"], COURSE_WORDS),
                                  n_study=len(rows["study"]), n_course=len(rows["course"]),
                                  n_sanity=len(rows["sanity"]), notebook_links="".join(links),
                                  rows="\n".join(rows["study"]), course_rows="\n".join(rows["course"]),
                                  sanity=sanity, figures="".join(figs) or "<p>No figure was saved.</p>"))
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
