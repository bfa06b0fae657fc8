"""The results as a picture (scripts/bench --plot FILE.png): one row per case.

Left panel: diskimport / peer, the median (dot) and the spread of the per-round ratios (bar from the lowest to the
highest round), the case's target (a vertical tick), green when the median meets it, red when it misses, grey when the
case has none. Log scale: the ratios run from about 0.1 to 1. Right panel: the pipeline against one stage alone (e.g.
igzip -dc > /dev/null) with that bound, for the streaming cases. Skipped and failed cases are listed under the plot.
"""
import matplotlib

matplotlib.use("Agg")  # no display: a file only
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

from .report import status  # noqa: E402

OK, MISS, NONE = "#2e7d32", "#c62828", "#616161"


def colour(value, target):
    if target is None:
        return NONE
    return OK if value <= target else MISS


def row_label(r):
    peer = r.get("peer", "")
    return "%s\nvs %s" % (r["case"], peer if len(peer) <= 46 else peer[:44] + "…")


def verdict(r):
    """(colour, annotation) of a case's median: against its ratio target, or its time-per-run target."""
    text = "%.2f" % r["ratio"]
    if "diskimport_ms_per_run" in r:
        text += "\n%.1f vs %.1f ms/run" % (r["diskimport_ms_per_run"], r["peer_ms_per_run"])
        if r.get("target_ms") is not None:
            text += " (<= %g)" % r["target_ms"]
            return colour(r["diskimport_ms_per_run"], r["target_ms"]), text
        return NONE, text
    return colour(r["ratio"], r.get("target_ratio")), text


def ratio_panel(ax, measured):
    for y, r in enumerate(measured):
        rounds = r.get("pair_ratios") or [r["ratio"]]
        target = r.get("target_ratio")
        c, text = verdict(r)
        ax.plot([min(rounds), max(rounds)], [y, y], color=c, linewidth=4, alpha=0.35, solid_capstyle="butt")
        ax.plot(r["ratio"], y, "o", color=c, markersize=8, zorder=3)
        right = max(rounds + [r["ratio"]] + ([target] if target else []))
        ax.annotate(text, (right, y), xytext=(8, 0), textcoords="offset points", va="center", fontsize=9, color=c)
        if target is not None:
            ax.plot(target, y, marker="|", color="black", markersize=18, markeredgewidth=2, zorder=4)
    ax.axvline(1.0, color="#9e9e9e", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    values = [v for r in measured for v in (r.get("pair_ratios") or []) + [r["ratio"], r.get("target_ratio") or 1]]
    low, high = min(values) / 1.4, max(values) * 2.5  # room on the right for the annotations
    ax.set_xlim(low, high)
    ticks = [t for t in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3) if low <= t <= high]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
    ax.set_xlabel("diskimport time / peer time (log scale; below 1: faster than the peer)")
    ax.set_title("against what users run today", fontsize=11)
    ax.grid(axis="x", color="#eeeeee")


def stage_panel(ax, measured):
    shown = False
    for y, r in enumerate(measured):
        if "stage_ratio" not in r:
            continue
        shown = True
        target = r.get("stage_target", 1.15)
        c = colour(r["stage_ratio"], target)
        ax.barh(y, r["stage_ratio"], height=0.45, color=c, alpha=0.8)
        ax.plot(target, y, marker="|", color="black", markersize=18, markeredgewidth=2)
        ax.annotate("%.2f of %s" % (r["stage_ratio"], r["slowest_stage"].replace(" > /dev/null", "")),
                    (max(r["stage_ratio"], target), y), xytext=(8, 0), textcoords="offset points", va="center",
                    fontsize=9, color=c)
    ax.axvline(1.0, color="#9e9e9e", linestyle="--", linewidth=1)
    ax.set_xlim(0, 2.6)
    ax.set_xlabel("pipeline time / that stage alone (e.g. igzip -dc > /dev/null)")
    ax.set_title("against its slowest part alone", fontsize=11)
    ax.grid(axis="x", color="#eeeeee")
    if not shown:
        ax.text(1.3, (len(measured) - 1) / 2, "no streaming case in this run", ha="center", color=NONE)


def draw(path, machine, settings, results):
    measured = [r for r in results if status(r) is None]
    others = [r for r in results if status(r) is not None]
    if not measured:
        raise SystemExit("bench: nothing measured to plot")
    height = 1.6 + 0.6 * len(measured) + 0.16 * len(others)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, height), sharey=True,
                                      gridspec_kw={"width_ratios": [3, 2], "wspace": 0.04})
    ratio_panel(left, measured)
    stage_panel(right, measured)
    left.set_yticks(range(len(measured)))
    left.set_yticklabels([row_label(r) for r in measured], fontsize=9)
    left.set_ylim(len(measured) - 0.5, -0.5)  # the first case on top
    load = "load %s at start, %s at end" % (" ".join(map(str, machine.get("load_start", [])[:1])),
                                            " ".join(map(str, machine.get("load_end", [])[:1])))
    fig.suptitle("diskimport %s: %d cases, median of %s alternating pairs (bars: lowest to highest round); %s" % (
        machine.get("diskimport_revision", "?"), len(measured), settings.get("pairs", "?"), load), fontsize=11)
    legend = [
        Line2D([], [], marker="o", linestyle="", color=OK, label="median meets the target"),
        Line2D([], [], marker="o", linestyle="", color=MISS, label="median misses the target"),
        Line2D([], [], marker="o", linestyle="", color=NONE, label="no target"),
        Line2D([], [], color=NONE, alpha=0.35, linewidth=4, label="lowest to highest round"),
        Line2D([], [], marker="|", linestyle="", color="black", markersize=12, markeredgewidth=2, label="target"),
    ]
    fig.legend(handles=legend, loc="lower right", ncol=5, fontsize=9, frameon=False, bbox_to_anchor=(0.98, 0.0))
    if others:
        fig.text(0.01, 0.01, "\n".join("%s: %s" % (r["case"], status(r)) for r in others), fontsize=8, color=NONE,
                 va="bottom")
    bottom = (0.75 + 0.16 * len(others)) / height
    fig.subplots_adjust(left=0.21, right=0.98, top=1 - 0.6 / height, bottom=bottom)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # /usr/bin/python3 -m benchlib.plot RESULTS.json OUT.png (see scripts/bench)
    import json
    import sys
    with open(sys.argv[1]) as f:
        saved = json.load(f)
    draw(sys.argv[2], saved["machine"], saved["settings"], saved["cases"])
