"""Issue 22's card, pilot 12: held-out prose cross-entropy against the step for the 12-layer teachers of pilots 10
and 9 and the 6-layer (and 3-layer) models trained from scratch on the same training blocks in the same order
(pilot 12a, 12b, 12c; 12e and 12f: seed 1 of pilot 10 and of 12a; pilot 12d with GPT-2's MLP against pilot 4), read
from the kept training logs (``train.quick_eval``: 400 held-out sentences every 300 steps), with a dotted line 5%
above the 12-layer model's last reading on those 400 sentences: on the curves' scale, about where issue 22's capacity
target asks a 6-layer student to stay (the target itself is 1.05 times ``family_eval``'s reading on 1,000 sentences,
0.04-0.06 nats lower than the line for these three teachers).

    python data/models/small2/pilots/plot_depth_control.py     # writes pilots/pilot12-depth-control.png
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
PANELS = (("narrow MLP, 2,400 steps", (("pilot10", "12 layers (pilot 10)"), ("pilot12a", "6 layers (12a)"),
                                        ("pilot12c", "3 layers (12c)"), ("pilot12e", "12 layers, seed 1 (12e)"),
                                        ("pilot12f", "6 layers, seed 1 (12f)"))),
          ("narrow MLP, 6,800 steps", (("pilot9", "12 layers (pilot 9)"), ("pilot12b", "6 layers (12b)"))),
          ("GPT-2's MLP, 2,400 steps", (("pilot4", "12 layers (pilot 4)"), ("pilot12d", "6 layers (12d)"))))


def curve(name: str) -> tuple[list[int], list[float]]:
    evals = json.loads((HERE / f"{name}-teacher-training.json").read_text())["log"]["evals"]
    return [e["step"] for e in evals], [e["prose_ce"] for e in evals]


if __name__ == "__main__":
    plt.rcParams.update({"font.size": 15})
    fig, axes = plt.subplots(1, 3, figsize=(18, 6.5), sharey=True)
    for ax, (title, runs) in zip(axes, PANELS):
        curves = {name: curve(name) for name, _ in runs}
        for i, (name, label) in enumerate(runs):
            x, y = curves[name]
            ax.plot(x, y, marker="o", lw=2.5, color=f"C{i}", label=label, ls="--" if "seed 1" in label else "-")
        last = curves[runs[0][0]][1][-1]  # the target: a 6-layer student 5% above its 12-layer teacher at the end
        ax.axhline(1.05 * last, color="k", ls=":", lw=2, label="5% above the 12-layer's last reading")
        ax.set(title=title, xlabel="training step", ylim=(3.25, 4.25))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=12)
    axes[0].set_ylabel("held-out prose cross-entropy (nats)")
    fig.suptitle("Held-out prose loss: the same training blocks in the same order, only the depth differs")
    fig.tight_layout()
    fig.savefig(HERE / "pilot12-depth-control.png", dpi=80)
