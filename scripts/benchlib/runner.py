"""Runs one case: diskimport and its peer (and the slowest-stage commands) in alternation, medians, the ratio.

Page cache: warm and the same for both. One untimed run of diskimport and of the peer comes first (it reads the
source into the page cache and gives the outputs the byte-for-byte check; the stages read the same, now cached,
source); before every run the previous output is deleted and `sync` runs, so no run pays for another's dirty pages.
Round i runs diskimport, peer, stages; round i+1 the reverse. Rounds past `pairs` (for a noisy case) run only while
one more round, as long as the longest so far, ends before the case's `extra_until` (the run's time budget).
"""
import json
import os
import shutil
import stat
import statistics
import subprocess
import time

from .cache import log
from .compare import first_difference
from .measure import CommandFailed, allocated, loadavg, run_timed

NOISE = 0.20  # (max - min) / median above which a case gets more pairs, up to max_pairs


class CaseFailed(Exception):
    pass


def is_device(path):
    return path is not None and os.path.exists(path) and stat.S_ISBLK(os.stat(path).st_mode)


def reset(command):
    if command.output and os.path.lexists(command.output) and not is_device(command.output):
        os.unlink(command.output)
    for directory in ([command.scratch] if command.scratch else []) + command.dirs:
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.makedirs(directory)


def run_once(command, work):
    """(Sample, facts): facts are what the run left behind: allocated bytes, scratch bytes, diskimport's summary."""
    reset(command)
    os.sync()
    argv = command.shell if command.shell is not None else command.argv
    try:
        sample = run_timed(argv, os.path.join(work, "rusage"), env=command.env, shell=command.shell is not None)
    except CommandFailed as error:
        raise CaseFailed("%s failed: %s" % (command.label, error))
    facts = {}
    if command.output and not is_device(command.output):
        if not os.path.exists(command.output):
            raise CaseFailed("%s left no output at %s" % (command.label, command.output))
        facts["allocated"] = allocated(command.output)
        facts["size"] = os.path.getsize(command.output)
    if command.scratch:
        facts["scratch"] = allocated(command.scratch)
    if command.json:
        try:
            summary = json.loads(sample.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise CaseFailed("diskimport printed no --json summary: %r" % sample.stdout[-200:])
        facts["scratch"] = summary.get("scratch-bytes", 0)
        facts["summary"] = summary
    return sample, facts


def spread(values):
    return (max(values) - min(values)) / statistics.median(values) if len(values) > 1 else 0.0


def keep_reference(peer, reference):
    """The peer's warm-up output, kept to check every diskimport output against (a device's bytes are copied)."""
    if peer.output is None:
        return
    if is_device(peer.output):
        subprocess.run(["cp", "--sparse=always", peer.output, reference], check=True)
    else:
        os.rename(peer.output, reference)


def run_case(case, ours, peer, stages, work, pairs, max_pairs, extra_until=None):
    # Next to the peer's output: renamed there, on the same filesystem.
    reference = os.path.join(work if is_device(peer.output) else os.path.dirname(peer.output), "reference.raw")
    load_start = loadavg()
    compare = case.compare or first_difference
    commands = [ours, peer] + stages
    samples = {id(c): [] for c in commands}
    facts = {}
    try:
        # Warm-up round (untimed): fills the page cache, and checks diskimport's output against the peer's.
        for command in [peer, ours]:
            _, facts[id(command)] = run_once(command, work)
            if command is peer:
                keep_reference(peer, reference)
            if command is ours:
                difference = compare(ours.output, reference)
                if difference:
                    raise CaseFailed("diskimport's output differs from the peer's: " + difference)
        rounds, longest = 0, 0.0

        def another_round():
            if rounds < pairs:
                return True
            noisy = max(spread([s.seconds for s in samples[id(c)]]) for c in (ours, peer)) > NOISE
            in_budget = extra_until is None or time.monotonic() + longest <= extra_until
            return rounds < max_pairs and noisy and in_budget

        while another_round():
            round_start = time.monotonic()
            order = commands if rounds % 2 == 0 else list(reversed(commands))
            for command in order:
                sample, run_facts = run_once(command, work)
                samples[id(command)].append(sample)
                if command is ours:
                    # Every timed output is checked too (untimed): a fast wrong answer is a failure.
                    difference = compare(ours.output, reference)
                    if difference:
                        raise CaseFailed("diskimport's output differs from the peer's (timed run %d): %s" % (
                            rounds + 1, difference))
                facts[id(command)] = run_facts
            rounds += 1
            longest = max(longest, time.monotonic() - round_start)
            log("%s: round %d: diskimport %.3f s, peer %.3f s" % (
                case.name, rounds, samples[id(ours)][-1].seconds, samples[id(peer)][-1].seconds))
    finally:
        for command in commands:
            reset(command)
        for path in [reference] + [c.scratch for c in commands if c.scratch] + [d for c in commands for d in c.dirs]:
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)

    def median(command, attribute="seconds"):
        return statistics.median(getattr(s, attribute) for s in samples[id(command)])

    ours_s, peer_s = median(ours), median(peer)
    result = {
        "case": case.name,
        "peer": case.peer_label,
        "diskimport_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ratio": round(ours_s / peer_s, 3),
        "target_ratio": case.target,
        "diskimport_rss_kb": max(s.rss_kb for s in samples[id(ours)]),
        "peer_rss_kb": max(s.rss_kb for s in samples[id(peer)]),
        "written_bytes": int(median(ours, "written_bytes")),
        "peer_written_bytes": int(median(peer, "written_bytes")),
        "allocated_bytes": facts[id(ours)].get("allocated"),
        "peer_allocated_bytes": facts[id(peer)].get("allocated"),
        "scratch_bytes": facts[id(ours)].get("scratch", 0),
        "peer_scratch_bytes": facts[id(peer)].get("scratch", 0),
        "output_bytes": facts[id(ours)].get("size"),
        "diskimport_cpu_s": round(median(ours, "cpu_s"), 3),
        "peer_cpu_s": round(median(peer, "cpu_s"), 3),
        "pairs": rounds,
        "diskimport_runs_s": [round(s.seconds, 3) for s in samples[id(ours)]],
        "peer_runs_s": [round(s.seconds, 3) for s in samples[id(peer)]],
        "spread": round(max(spread([s.seconds for s in samples[id(c)]]) for c in (ours, peer)), 3),
        # Round i's diskimport time over round i's peer time: the spread of the ratio itself (--plot).
        "pair_ratios": [round(a.seconds / b.seconds, 3) for a, b in zip(samples[id(ours)], samples[id(peer)])],
        "durability": case.durability,
        "note": case.note,
        "identical": True,
        "load": [load_start, loadavg()],
    }
    summary = facts[id(ours)].get("summary", {})
    # Every summary carries the key (0 without --reference): only a case that passes --reference is a delta case.
    if "--reference" in " ".join(map(str, ours.argv or [])) + " " + (ours.shell or "") and summary.get("bytes-written"):
        # The delta case: how much of the new version's data the old volume already held (issue 21: >= 85%).
        result["shared_bytes"] = int(summary["bytes-shared-with-reference"])
        result["shared_fraction"] = round(summary["bytes-shared-with-reference"] / summary["bytes-written"], 4)
    if case.per_run > 1:
        result.update({"per_run": case.per_run, "diskimport_ms_per_run": round(1000 * ours_s / case.per_run, 2),
                       "peer_ms_per_run": round(1000 * peer_s / case.per_run, 2), "target_ms": case.target_ms})
    if stages:
        stage_s = {c.label: round(median(c), 3) for c in stages}
        # Held against the case's reference stage when it has one, else the slowest.
        held = case.reference_stage if case.reference_stage in stage_s else max(stage_s, key=stage_s.get)
        result.update({"stages_s": stage_s, "slowest_stage": held, "slowest_stage_s": stage_s[held],
                       "stage_ratio": round(ours_s / stage_s[held], 3), "stage_target": case.stage_target})
    return result
