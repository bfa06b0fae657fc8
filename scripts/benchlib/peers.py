"""Peers the bench builds itself: CDI's gzip reader (klauspost/pgzip, CDI >= v1.66) as a small Go program, built in
GOPATH mode from Debian's packages (golang-go, golang-github-klauspost-pgzip-dev: scripts/install-deps --bench), so
no module is downloaded. Cached like the images, keyed by the Go version, the program's source and pgzip's version."""
import hashlib
import os
import shutil
import subprocess

from .cache import first_line, sh

HERE = os.path.dirname(os.path.abspath(__file__))
GOPATH = "/usr/share/gocode"
PGZIP_SOURCE = os.path.join(GOPATH, "src", "github.com", "klauspost", "pgzip")


def package_version(name):
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


class Peers:
    def __init__(self, cache):
        self.cache = cache
        self._pgzip = None

    def pgzip(self):
        """(path, None) of the pgzip peer, or (None, why it cannot be built)."""
        if self._pgzip is None:
            self._pgzip = self._build_pgzip()
        return self._pgzip

    def _build_pgzip(self):
        if not shutil.which("go") or not os.path.isdir(PGZIP_SOURCE):
            return None, "needs golang-go and golang-github-klauspost-pgzip-dev (scripts/install-deps --bench)"
        main = os.path.join(HERE, "pgzip-peer", "main.go")
        with open(main, "rb") as f:
            source = hashlib.sha256(f.read()).hexdigest()[:12]
        recipe = {"peer": "pgzip", "version": 1, "go": first_line("go", "version"), "source": source,
                  "pgzip": package_version("golang-github-klauspost-pgzip-dev"),
                  "compress": package_version("golang-github-klauspost-compress-dev")}

        def build(tmp):
            gocache = tmp + ".gocache"
            env = dict(os.environ, GOPATH=GOPATH, GO111MODULE="off", GOCACHE=gocache, GOFLAGS="")
            try:
                sh("go", "build", "-o", tmp, main, env=env)
            finally:
                shutil.rmtree(gocache, ignore_errors=True)
        try:
            return self.cache.make("pgzip-peer", recipe, "bin", build), None
        except SystemExit as error:  # sh's failure: the compiler's message
            return None, "go build of the pgzip peer failed: %s" % str(error).splitlines()[-1]
