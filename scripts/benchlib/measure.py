"""One timed run of a command, and the machine it ran on.

Each command runs under GNU time (`/usr/bin/time`), whose wait4 rusage covers the command and every child it waited
for: peak RSS is that of the largest single process (a pipeline's biggest stage), CPU is the sum, and written bytes
are the kernel's count of bytes the processes dirtied in files (ru_oublock x 512: output, scratch and all). (A child
forked from Python would report Python's own RSS high-water mark as its own: hence GNU time, which is tiny.)
"""
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field

from .cache import first_line

TIME_FORMAT = "%M %U %S %O"


@dataclass
class Sample:
    seconds: float
    rss_kb: int
    cpu_s: float
    written_bytes: int
    stdout: str = ""
    extra: dict = field(default_factory=dict)


class CommandFailed(Exception):
    pass


def run_timed(argv, rusage_file, env=None, cwd=None, shell=False):
    """Runs argv (or a shell command line when shell=True) under GNU time. Raises CommandFailed with its stderr."""
    command = ["sh", "-c", argv] if shell else [str(a) for a in argv]
    full_env = dict(os.environ, **env) if env else None
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-o", rusage_file, "-f", TIME_FORMAT] + command, env=full_env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        shown = argv if shell else " ".join(command)
        raise CommandFailed("exit %d: %s\n%s" % (proc.returncode, shown, proc.stderr.decode(errors="replace")[-3000:]))
    with open(rusage_file) as f:
        rss, user, system, blocks = f.read().strip().splitlines()[-1].split()
    return Sample(seconds, int(rss), float(user) + float(system), int(blocks) * 512, proc.stdout.decode(errors="replace"))


def allocated(path):
    """Bytes allocated to a file (st_blocks; ext4 counts delayed allocations too), or to every file under a directory."""
    if os.path.isdir(path):
        return sum(allocated(os.path.join(d, n)) for d, _, files in os.walk(path) for n in files)
    try:
        return os.lstat(path).st_blocks * 512
    except FileNotFoundError:
        return 0


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    return None


def filesystem_of(path):
    proc = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def git_revision(root):
    proc = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def machine(root, work_dir):
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "os": first_line("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
        "work_dir": work_dir,
        "work_fs": filesystem_of(work_dir),
        "diskimport_revision": git_revision(root),
        "versions": {
            "swift": first_line("swift", "--version"),
            "qemu-img": first_line("qemu-img", "--version"),
            "xz": first_line("xz", "--version"),
            "gzip": first_line("gzip", "--version"),
            "pigz": first_line("pigz", "--version"),
            "zstd": first_line("zstd", "--version"),
            "curl": first_line("curl", "--version"),
            "skopeo": first_line("skopeo", "--version"),
            "nginx": first_line("nginx", "-v"),
            "docker-registry": first_line("docker-registry", "--version"),
        },
    }
