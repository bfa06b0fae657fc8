"""The loopback servers of the network cases: the project's own test fixtures (scripts/fixtures/start: nginx with
HTTPS, basic auth and a custom CA; docker-registry with TLS and htpasswd), reused when DISKIMPORT_FIXTURES points at
running ones, else started here and stopped at the end."""
import os
import shutil
import subprocess
import tempfile

from .cache import log, sh


class Servers:
    def __init__(self, root):
        self.root = root
        self.env = None
        self.started_base = None
        self.failure = None
        self.pushed = {}

    def available(self):
        """(True, "") once the servers answer, else (False, why)."""
        if self.env is None and self.failure is None:
            self.failure = self._start()
        return (self.failure is None, self.failure or "")

    def _start(self):
        base = os.environ.get("DISKIMPORT_FIXTURES")
        if base and os.path.exists(os.path.join(base, "fixtures.env")):
            self.env = self._read_env(base)
            return None
        script = os.path.join(self.root, "scripts", "fixtures", "start")
        if not os.access(script, os.X_OK):
            return "not on main yet (no scripts/fixtures/start for the loopback servers)"
        base = tempfile.mkdtemp(prefix="diskimport-bench-fixtures.")
        log("starting the loopback servers (scripts/fixtures/start %s)" % base)
        proc = subprocess.run([script, base], capture_output=True, text=True)
        self.started_base = base
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            return "scripts/fixtures/start failed: " + last
        self.env = self._read_env(base)
        return None

    @staticmethod
    def _read_env(base):
        env = {}
        with open(os.path.join(base, "fixtures.env")) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("=")
                if key:
                    env[key] = value
        return env

    def stop(self):
        if self.started_base:
            subprocess.run([os.path.join(self.root, "scripts", "fixtures", "stop"), self.started_base],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started_base = None

    # --- HTTPS files (nginx, basic auth under /private/)

    def password(self, key):
        with open(self.env[key]) as f:
            return f.read().strip()

    def publish(self, path, name):
        """An https URL of `path` behind basic auth (a symlink in nginx's /private/ tree)."""
        directory = os.path.join(self.env["WWW_DIR"], "private", "bench")
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        link = os.path.join(directory, name)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.abspath(path), link)
        return "https://127.0.0.1:%s/private/bench/%s" % (self.env["FILES_PORT"], name)

    def curl_config(self):
        """A curl -K file with the CA and the files' credentials (kept off every command line)."""
        path = os.path.join(self.env["FIXTURES_BASE"], "secrets", "bench-curl.conf")
        if not os.path.exists(path):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write('cacert = "%s"\nuser = "%s:%s"\nsilent\nshow-error\nfail\nhttp1.1\n' % (
                    self.env["CA_FILE"], self.env["FILES_USER"], self.password("FILES_PASSWORD_FILE")))
        return path

    def registry_curl_config(self):
        path = os.path.join(self.env["FIXTURES_BASE"], "secrets", "bench-registry-curl.conf")
        if not os.path.exists(path):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write('cacert = "%s"\nuser = "%s:%s"\nsilent\nshow-error\nfail\nlocation\n' % (
                    self.env["CA_FILE"], self.env["REG_USER"], self.password("REG_PASSWORD_FILE")))
        return path

    # --- S3 (moto with SigV4 verified, HTTPS; scripts/fixtures/s3-server.py)

    def s3_put(self, path, key):
        """Stores `path` as s3://disks/KEY (once per run, through the fixture's unsigned control path); returns the
        s3:// URL."""
        if ("s3", key) not in self.pushed:
            log("storing %s as s3://disks/%s" % (os.path.basename(path), key))
            sh("curl", "-sS", "--fail", "-X", "POST", "--data-binary", "@" + path,
               "http://127.0.0.1:%s/_diskimport/put/disks/%s" % (self.env["S3_HTTP_PORT"], key))
            self.pushed[("s3", key)] = "s3://disks/" + key
        return self.pushed[("s3", key)]

    def s3_endpoint(self):
        return "https://127.0.0.1:%s" % self.env["S3_HTTPS_PORT"]

    def s3_curl_config(self):
        """A curl -K file that signs with the reader's key pair (AWS SigV4, as `aws s3 cp` signs)."""
        path = os.path.join(self.env["FIXTURES_BASE"], "secrets", "bench-s3-curl.conf")
        if not os.path.exists(path):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write('cacert = "%s"\nuser = "%s:%s"\naws-sigv4 = "aws:amz:127:s3"\n'
                        'header = "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"\n'
                        'silent\nshow-error\nfail\nhttp1.1\n' % (
                            self.env["CA_FILE"], self.password("S3_ACCESS_KEY_FILE"), self.password("S3_SECRET_KEY_FILE")))
        return path

    # --- registry (docker-registry, TLS + htpasswd)

    def registry(self):
        return "127.0.0.1:%s" % self.env["REG_BASIC_PORT"]

    def auth_file(self):
        return os.path.join(self.env["FIXTURES_BASE"], "secrets", "auth.json")

    def push(self, layout, repository):
        """Pushes an OCI layout's "latest" to the basic-auth registry (once per run); returns docker://… ."""
        if layout not in self.pushed:
            reference = "docker://%s/%s:latest" % (self.registry(), repository)
            log("pushing %s to %s" % (os.path.basename(layout), reference))
            sh("skopeo", "copy", "-q", "--preserve-digests", "--dest-cert-dir", self.env["CERT_DIR"],
               "--dest-authfile", self.auth_file(), "oci:%s:latest" % layout, reference)
            self.pushed[layout] = reference
        return self.pushed[layout]

    def fixture_image(self):
        """The small containerDisk the fixtures push (for the feature probe)."""
        return "docker://%s/containerdisks/test:latest" % self.registry()


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
