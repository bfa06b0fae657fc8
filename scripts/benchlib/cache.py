"""The image cache: every built file is named by a key over the recipe that made it, so a second run builds nothing
and a changed recipe (size, tool version, parent image) builds a new file next to the old one."""
import hashlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time

DEFAULT_DIR = os.environ.get("DISKIMPORT_BENCH_DIR", "/var/tmp/diskimport-bench")


def log(message):
    print("bench: " + message, file=sys.stderr, flush=True)


def sh(*args, **kw):
    """Runs a command, failing loudly with its stderr."""
    args = [str(a) for a in args]
    proc = subprocess.run(args, stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=subprocess.PIPE, **kw)
    if proc.returncode != 0:
        raise SystemExit("bench: failed (%d): %s\n%s" % (proc.returncode, " ".join(args),
                                                         proc.stderr.decode(errors="replace")[-2000:]))
    return proc


def first_line(*args):
    """The first line a tool prints about itself (its version), or "missing"."""
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else "missing"


def recipe_key(recipe):
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


class Cache:
    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        os.makedirs(os.path.join(self.directory, "images"), exist_ok=True)
        self.built = []  # names built by this run (a second run should list none)

    def path(self, name, recipe, ext):
        return os.path.join(self.directory, "images", "%s-%s.%s" % (name, recipe_key(recipe), ext))

    def make(self, name, recipe, ext, build):
        """The cached file for `recipe`, calling build(tmp_path) to make it when missing. The file appears under its
        final name only when complete (a killed build leaves a .tmp that the next build replaces)."""
        final = self.path(name, recipe, ext)
        if os.path.exists(final):
            return final
        # One builder per image: a concurrent bench run waits here, then finds the image built.
        with open(final + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.path.exists(final):
                return final
            return self._build(final, recipe, build)

    def _build(self, final, recipe, build):
        tmp = final + ".tmp"
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        elif os.path.exists(tmp):
            os.unlink(tmp)
        log("building %s" % os.path.basename(final))
        start = time.monotonic()
        build(tmp)
        os.rename(tmp, final)
        seconds = time.monotonic() - start
        with open(final + ".recipe.json", "w") as f:
            json.dump({"recipe": recipe, "build_seconds": round(seconds, 1)}, f, indent=1, sort_keys=True)
        self.built.append(os.path.basename(final))
        log("built %s in %.0f s" % (os.path.basename(final), seconds))
        return final

    def scratch(self, name):
        """A fresh working directory under the cache (same filesystem as the images)."""
        path = os.path.join(self.directory, name)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.makedirs(path)
        return path
