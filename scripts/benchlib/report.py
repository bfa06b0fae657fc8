"""The results as a text table (stdout), a Markdown table (for README.md) and JSON."""
import json

MB = 10**6


def mb(value):
    return "-" if value is None else "%.0f" % (value / MB)


def mib_of_kb(value):
    return "%.0f" % (value / 1024)


RSS_LIMIT_MIB = 128  # issue 17: peak RSS under 128 MiB


def ratio_cell(result):
    cell = "%.2f" % result["ratio"]
    if result.get("target_ratio") is not None:
        mark = "ok" if result["ratio"] <= result["target_ratio"] else "MISS"
        cell += " (<=%.2g %s)" % (result["target_ratio"], mark)
    if "diskimport_ms_per_run" in result:
        cell += "; %.1f/%.1f ms per run" % (result["diskimport_ms_per_run"], result["peer_ms_per_run"])
        if result.get("target_ms") is not None:
            mark = "ok" if result["diskimport_ms_per_run"] <= result["target_ms"] else "MISS"
            cell += " (<=%g ms %s)" % (result["target_ms"], mark)
    if "shared_fraction" in result:
        mark = "ok" if result["shared_fraction"] >= 0.85 else "MISS"
        cell += "; %.1f%% shared (>=85%% %s)" % (100 * result["shared_fraction"], mark)
    return cell


def stage_cell(result):
    if "stage_ratio" not in result:
        return "-"
    target = result.get("stage_target", 1.15)
    mark = "ok" if result["stage_ratio"] <= target else "MISS"
    return "%.2f of %s %.2fs (<=%.2g %s)" % (result["stage_ratio"], result["slowest_stage"], result["slowest_stage_s"],
                                             target, mark)


def rss_cell(result):
    cell = "%s/%s" % (mib_of_kb(result["diskimport_rss_kb"]), mib_of_kb(result["peer_rss_kb"]))
    return cell + (" (>%d MISS)" % RSS_LIMIT_MIB if result["diskimport_rss_kb"] >= RSS_LIMIT_MIB * 1024 else "")


COLUMNS = [
    ("case", lambda r: r["case"]),
    ("diskimport s", lambda r: "%.3f" % r["diskimport_s"]),
    ("peer s", lambda r: "%.3f" % r["peer_s"]),
    ("ratio", ratio_cell),
    ("RSS MiB ours/peer", rss_cell),
    ("written MB ours/peer", lambda r: "%s/%s" % (mb(r["written_bytes"]), mb(r["peer_written_bytes"]))),
    ("allocated MB ours/peer", lambda r: "%s/%s" % (mb(r["allocated_bytes"]), mb(r["peer_allocated_bytes"]))),
    ("scratch MB ours/peer", lambda r: "%s/%s" % (mb(r["scratch_bytes"]), mb(r["peer_scratch_bytes"]))),
    ("CPU s ours/peer", lambda r: "%.1f/%.1f" % (r["diskimport_cpu_s"], r["peer_cpu_s"])),
    ("pipeline / stage alone", stage_cell),
    ("pairs, spread", lambda r: "%d, %.0f%%" % (r["pairs"], 100 * r["spread"])),
    ("peer", lambda r: r["peer"]),
]


def status(r):
    """None for a measured case, else its one-line status."""
    if "skipped" in r:
        return "skipped: " + r["skipped"]
    if "failed" in r:
        return "FAILED: " + r["failed"]
    return None


def text_table(results):
    header = [name for name, _ in COLUMNS]
    measured = [[f(r) for _, f in COLUMNS] for r in results if status(r) is None]
    widths = [max(len(row[i]) for row in [header] + measured) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip()]
    for r in results:
        if status(r) is None:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(f(r) for _, f in COLUMNS)).rstrip())
        else:
            lines.append("%s  %s (peer: %s)" % (r["case"].ljust(widths[0]), status(r), r.get("peer", "")))
    return "\n".join(lines)


def markdown_table(results):
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        cells = [f(r) for _, f in COLUMNS] if status(r) is None else \
            [r["case"], status(r)] + [""] * (len(COLUMNS) - 3) + [r.get("peer", "")]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def header(machine, settings):
    m = machine
    v = m["versions"]
    return "\n".join([
        "machine: %d cores (%s), %s GiB, Linux %s, %s; work dir %s (%s)" % (
            m["cores"], m["cpu"], m["memory_gib"], m["kernel"], m["os"], m["work_dir"], m["work_fs"]),
        "load average at start %s, at end %s; cases took %s" % (
            " ".join(map(str, m["load_start"])), " ".join(map(str, m.get("load_end", []))),
            "%d min %02d s" % divmod(m["duration_s"], 60) if "duration_s" in m else "?"),
        "diskimport %s (%s build); %s; %s; %s; %s; %s" % (
            m["diskimport_revision"], settings["build"], v["qemu-img"], v["xz"], v["curl"].split(" (")[0],
            v["skopeo"], v["pigz"]),
        "images: %s" % "; ".join(settings["images"]) if settings["images"] else "images: none needed",
        "method: %s" % settings["method"],
    ])


def write_json(path, machine, settings, results):
    with open(path, "w") as f:
        json.dump({"machine": machine, "settings": settings, "cases": results}, f, indent=1)
        f.write("\n")
