"""The results as a text table (stdout), a Markdown table (for README.md) and JSON."""
import json

MB = 10**6


def mb(value):
    return "-" if value is None else "%.0f" % (value / MB)


def mib_of_kb(value):
    return "%.0f" % (value / 1024)


def ratio_cell(result):
    if result.get("target_ratio") is None:
        return "%.2f" % result["ratio"]
    mark = "ok" if result["ratio"] <= result["target_ratio"] else "MISS"
    return "%.2f (<=%.2g %s)" % (result["ratio"], result["target_ratio"], mark)


def stage_cell(result):
    if "stage_ratio" not in result:
        return "-"
    mark = "ok" if result["stage_ratio"] <= 1.15 else "MISS"
    return "%.2f of %s %.2fs (%s)" % (result["stage_ratio"], result["slowest_stage"], result["slowest_stage_s"], mark)


COLUMNS = [
    ("case", lambda r: r["case"]),
    ("peer", lambda r: r["peer"]),
    ("diskimport s", lambda r: "%.3f" % r["diskimport_s"]),
    ("peer s", lambda r: "%.3f" % r["peer_s"]),
    ("ratio", ratio_cell),
    ("RSS MiB ours/peer", lambda r: "%s/%s" % (mib_of_kb(r["diskimport_rss_kb"]), mib_of_kb(r["peer_rss_kb"]))),
    ("written MB ours/peer", lambda r: "%s/%s" % (mb(r["written_bytes"]), mb(r["peer_written_bytes"]))),
    ("allocated MB ours/peer", lambda r: "%s/%s" % (mb(r["allocated_bytes"]), mb(r["peer_allocated_bytes"]))),
    ("scratch MB ours/peer", lambda r: "%s/%s" % (mb(r["scratch_bytes"]), mb(r["peer_scratch_bytes"]))),
    ("CPU s ours/peer", lambda r: "%.1f/%.1f" % (r["diskimport_cpu_s"], r["peer_cpu_s"])),
    ("pipeline / slowest stage", stage_cell),
    ("pairs, spread", lambda r: "%d, %.0f%%" % (r["pairs"], 100 * r["spread"])),
]


def rows(results):
    for r in results:
        if "skipped" in r or "failed" in r:
            status = ("skipped: " + r["skipped"]) if "skipped" in r else ("FAILED: " + r["failed"])
            yield [r["case"], r.get("peer", ""), status] + [""] * (len(COLUMNS) - 3)
        else:
            yield [f(r) for _, f in COLUMNS]


def text_table(results):
    table = [[name for name, _ in COLUMNS]] + list(rows(results))
    widths = [max(len(row[i]) for row in table if not row[2].startswith(("skipped", "FAILED")) or i < 2)
              for i in range(len(COLUMNS))]
    lines = []
    for row in table:
        if row[2].startswith(("skipped", "FAILED")):
            lines.append("  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2]]))
        else:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def markdown_table(results):
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def header(machine, settings):
    m = machine
    v = m["versions"]
    return "\n".join([
        "machine: %d cores (%s), %s GiB, Linux %s, %s; work dir %s (%s)" % (
            m["cores"], m["cpu"], m["memory_gib"], m["kernel"], m["os"], m["work_dir"], m["work_fs"]),
        "load average at start %s, at end %s" % (" ".join(map(str, m["load_start"])),
                                                 " ".join(map(str, m.get("load_end", [])))),
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
