"""Does this diskimport support what a case needs? Each feature is tried once on a tiny input. A refusal that says
the feature is missing ("not supported yet", an unknown option or subcommand) skips the feature's cases as "not on
main yet"; any other failure is a real failure of those cases."""
import os
import re
import subprocess

from .images import tiny_images

MISSING = re.compile(r"not supported|not available|unknown option|unexpected argument|unknown subcommand|"
                     r"not implemented", re.I)


class Probes:
    def __init__(self, binary, cache, servers, peers, work):
        self.binary, self.cache, self.servers, self.peers, self.work = binary, cache, servers, peers, work
        self.results = {}

    def check(self, feature):
        """None when supported, else ("skipped" | "failed", reason)."""
        if feature not in self.results:
            self.results[feature] = self._probe(feature)
        return self.results[feature]

    def _run(self, argv, env=None):
        out = os.path.join(self.work, "probe.raw")
        proc = subprocess.run([str(a) for a in argv] + ([] if env else [out]), capture_output=True, text=True,
                              env=dict(os.environ, **env) if env else None, timeout=120)
        for path in (out, os.path.join(self.work, "probe-data", "disk.img")):
            if os.path.exists(path):
                os.unlink(path)
        if proc.returncode == 0:
            return None
        message = (proc.stderr.strip() or proc.stdout.strip() or "exit %d" % proc.returncode).splitlines()
        text = " ".join(message)[:300]
        first = message[0][:160].replace("diskimport: ", "", 1)
        return ("skipped", "not on main yet (diskimport: %s)" % first) if MISSING.search(text) \
            else ("failed", "probe failed: " + text)

    def _probe(self, feature):
        tiny = tiny_images(self.cache)
        b = self.binary
        if feature == "root":
            return None if os.geteuid() == 0 else ("skipped", "needs root (loop devices, mounts)")
        if feature == "reference":
            # --reference needs a reflink filesystem; its absence from --help is what "not on main yet" means here.
            if os.geteuid() != 0:
                return ("skipped", "needs root (loop devices, mounts)")
            helped = subprocess.run([b, "convert", "--help"], capture_output=True, text=True)
            return None if "--reference" in helped.stdout else ("skipped", "not on main yet (no convert --reference)")
        if feature == "raw":
            return self._run([b, "convert", tiny["raw"]])
        if feature == "qcow2":
            return self._run([b, "convert", tiny["qcow2"]])
        if feature in ("vmdk", "vdi", "vpc", "vhdx"):
            return self._run([b, "convert", tiny[feature]])
        if feature == "gzip-qcow2":
            return self._run([b, "convert", tiny["qcow2.gz"]])
        if feature == "pgzip":
            _, why = self.peers.pgzip()
            return ("skipped", "the pgzip peer: " + why) if why else self.check("gzip-qcow2")
        if feature == "xz":
            return self._run([b, "convert", tiny["raw.xz"]])
        if feature == "upload":
            from .upload import probe
            message = probe(b, self.work, tiny["raw"])
            if message is None:
                return None
            return ("skipped", "not on main yet (%s)" % message[:160]) if MISSING.search(message) \
                else ("failed", "probe failed: " + message[:300])
        ok, why = self.servers.available()
        if not ok:
            return ("skipped", why)
        env = self.servers.env
        if feature == "https":
            url = self.servers.publish(tiny["raw"], "probe.raw")
            return self._run([b, "convert", url, "--ca-file", env["CA_FILE"], "--user", env["FILES_USER"],
                              "--password-file", env["FILES_PASSWORD_FILE"]])
        if feature == "registry":
            return self._run([b, "convert", self.servers.fixture_image(), "--cert-dir", env["CERT_DIR"],
                              "--user", env["REG_USER"], "--password-file", env["REG_PASSWORD_FILE"]])
        if feature == "s3":
            url = self.servers.s3_put(tiny["raw"], "bench/probe.raw")
            return self._run([b, "convert", url, "--s3-endpoint", self.servers.s3_endpoint(), "--ca-file", env["CA_FILE"],
                              "--access-key-file", env["S3_ACCESS_KEY_FILE"], "--secret-key-file", env["S3_SECRET_KEY_FILE"]])
        if feature == "pod":
            data = os.path.join(self.work, "probe-data")
            os.makedirs(data, exist_ok=True)
            url = self.servers.publish(tiny["raw"], "probe.raw")
            return self._run([b, "import", "--data-dir", data, "--block-device", data + "-absent-block",
                              "--scratch-dir", data + "-absent-scratch", "--metrics-port", "0",
                              "--termination-log", os.path.join(self.work, "probe-termination-log")],
                             env={"IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": url,
                                  "IMPORTER_CONTENTTYPE": "kubevirt", "IMPORTER_IMAGE_SIZE": "1Mi",
                                  "FILESYSTEM_OVERHEAD": "0", "IMPORTER_CERT_DIR": env["CERT_DIR"],
                                  "IMPORTER_ACCESS_KEY_ID": env["FILES_USER"],
                                  "IMPORTER_SECRET_KEY": self.servers.password("FILES_PASSWORD_FILE")})
        raise KeyError(feature)
