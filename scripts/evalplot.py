"""evalplot.py - evaluate.py's picture: a PNG summary of a report (evaluate.py --png FILE).

Three panels, each drawn only when the report has its view:
  - per class (flow view): precision and recall of each label, with its support;
  - per IP: victims at high, attackers at high, spoofed/reflector sources above low, benign
    addresses at high, each against its total (what the per-IP view judges);
  - timeline: when each victim was flagged, seconds from its attack's onset to high (sorted),
    with the 1 s mark: the detection latency an operator sees.

matplotlib with the Agg backend (no display); Debian's python3-matplotlib. Used by evaluate.py
only; write_png(report, results, path) returns the path written."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _per_class(ax, table):
    labels = sorted(table, key=lambda c: (-table[c]["support"], c))
    x = range(len(labels))
    prec = [table[c]["precision"] for c in labels]
    rec = [table[c]["recall"] for c in labels]
    ax.bar([i - 0.2 for i in x], prec, width=0.4, label="precision", color="#5b9bd5")
    ax.bar([i + 0.2 for i in x], rec, width=0.4, label="recall", color="#e0752d")
    ax.set_xticks(list(x))
    ax.set_xticklabels([f"{c}\n{table[c]['support']:,}" for c in labels], rotation=45,
                       ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("flows per class (label, support)")
    ax.legend(fontsize=8)


def _per_ip(ax, s):
    rows = [("victims at high", s["victims_high"], s["victims"]),
            ("attackers at high", s["attackers_high"], s["attackers"]),
            ("spoofed/reflector\nsources above low", s["spoofed_or_reflector_above_low"],
             s["spoofed_or_reflector_sources"]),
            ("benign captures with\nan IP at high", s["benign_captures_with_high_ip"],
             s["benign_captures"])]
    names = [r[0] for r in rows]
    share = [r[1] / r[2] if r[2] else 0 for r in rows]
    colors = ["#4c9a6a", "#4c9a6a", "#d9363e", "#d9363e"]
    ax.barh(names, share, color=colors)
    for i, (_, n, total) in enumerate(rows):
        ax.text(min(share[i], 0.75) + 0.02, i, f"{n:,} of {total:,}", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title("per IP (green: want all; red: want none)")
    ax.tick_params(axis="y", labelsize=8)


def _timeline(ax, results):
    times = sorted(v["seconds_to_high"] for r in results if "per_ip" in r
                   and r["per_ip"].get("kind") == "attack"
                   for a in r["per_ip"]["attacks"] for v in a["victims"]
                   if v["seconds_to_high"] is not None)
    if not times:
        ax.text(0.5, 0.5, "no victim reached high", ha="center", va="center")
        ax.set_axis_off()
        return
    ax.plot(times, range(1, len(times) + 1), drawstyle="steps-post", color="#e0752d")
    ax.axvline(1.0, color="#8a96a6", linestyle="--", linewidth=1)
    ax.set_xlabel("seconds from the attack's onset to high")
    ax.set_ylabel("victims flagged")
    ax.set_title(f"timeline: {len(times)} victims flagged")


def write_png(report, results, path):
    panels = []
    if "flows" in report:
        panels.append(lambda ax: _per_class(ax, report["flows"]["per_class"]))
    if "per_ip" in report:
        panels.append(lambda ax: _per_ip(ax, report["per_ip"]["summary"]))
        panels.append(lambda ax: _timeline(ax, results))
    if not panels:
        raise ValueError("the report has neither a flow nor a per-IP view")
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.8))
    for ax, draw in zip(axes if len(panels) > 1 else [axes], panels):
        draw(ax)
    fig.suptitle(f"ddosd evaluation: {report['captures']} captures "
                 f"({report['unreadable']} unreadable)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
