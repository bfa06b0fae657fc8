"""The upload case: a qcow2 sent over TLS (client certificates, as CDI's upload proxy connects) into
`diskimport upload-server`, which streams the request body into the disk, against CDI's path for the same upload:
cdi-uploadserver saves every qcow2 body to the scratch volume, then runs `qemu-img convert -t writeback`. The body
is received and saved by nginx here (TLS with a verified client certificate, WebDAV PUT into the scratch
directory): C, in one pass, so the peer's receiving half is at least as fast as Go's io.Copy in CDI's server.

Both sides use the same client (curl -T, streaming the file with its Content-Length) and flush the disk (CDI's
qemu-img -t writeback fdatasyncs; diskimport fsyncs). diskimport's side includes starting the server and waiting for
/healthz (a few ms, polled every 10 ms), as an upload pod pays for its start too.
"""
import atexit
import os
import shlex
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT_NAME = "client.upload-server.cdi.kubevirt.io"


def q(path):
    return shlex.quote(str(path))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UploadFixture:
    """The certificates (scripts/fixtures/gen-upload-pki) and the peer's nginx, made once per bench run."""

    def __init__(self, base):
        self.base = base
        self.pki = os.path.join(base, "pki")
        if not os.path.exists(os.path.join(self.pki, "client.crt")):
            subprocess.run([os.path.join(ROOT, "scripts", "fixtures", "gen-upload-pki"), self.pki], check=True)
        self.nginx_port = None
        self.nginx = None

    def file(self, name):
        return os.path.join(self.pki, name)

    def curl(self, identity=True):
        flags = "-sS --fail --http1.1 --cacert %s" % q(self.file("ca.crt"))
        if identity:
            flags += " --cert %s --key %s" % (q(self.file("client.crt")), q(self.file("client.key")))
        return "curl " + flags

    def start_nginx(self, scratch):
        """nginx receiving PUT bodies over client-certificate TLS into `scratch` (the peer's scratch volume)."""
        if self.nginx:
            return self.nginx_port
        port = free_port()
        conf_dir = os.path.join(self.base, "nginx")
        os.makedirs(os.path.join(conf_dir, "tmp"), exist_ok=True)
        temp = " ".join("%s_temp_path %s/tmp/%s;" % (k, conf_dir, k) for k in ("proxy", "fastcgi", "uwsgi", "scgi"))
        conf = os.path.join(conf_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_max_body_size 0;
  client_body_temp_path {d}/tmp/body;
  {temp}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {crt}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_client_certificate {ca}; ssl_verify_client on;
    root {scratch};
    location / {{ dav_methods PUT; create_full_put_path on; dav_access user:rw; }}
  }}
}}
""".format(d=conf_dir, temp=temp, port=port, crt=self.file("server.crt"), key=self.file("server.key"),
           ca=self.file("client-ca.crt"), scratch=scratch))
        self.nginx = subprocess.Popen(["nginx", "-e", os.path.join(conf_dir, "startup.log"), "-p", conf_dir, "-c", conf,
                                       "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(self.stop)
        for _ in range(200):
            probe = subprocess.run(self.curl(identity=False).split() + ["-o", "/dev/null", "-I",
                                   "https://127.0.0.1:%d/" % port], capture_output=True)
            if probe.returncode in (0, 22, 56):  # any answer (the client-certificate refusal included)
                break
            time.sleep(0.05)
        self.nginx_port = port
        return port

    def stop(self):
        if self.nginx:
            self.nginx.terminate()
            self.nginx.wait()
            self.nginx = None

    def server_command(self, binary, data, port, source, path="/v1beta1/upload"):
        """A shell command: start diskimport upload-server, wait for /healthz, upload `source`, wait for the exit."""
        env = {"TLS_CERT_FILE": self.file("server.crt"), "TLS_KEY_FILE": self.file("server.key"),
               "CLIENT_CERT_FILE": self.file("client-ca.crt"), "CLIENT_NAME": CLIENT_NAME,
               "LISTEN_ADDRESS": "127.0.0.1", "LISTEN_PORT": str(port), "FILESYSTEM_OVERHEAD": "0",
               "PREALLOCATION": "false"}
        exports = " ".join("%s=%s" % (k, q(v)) for k, v in env.items())
        absent = data + "-absent"
        url = "https://127.0.0.1:%d" % port
        return (
            "set -e; {exports} {bin} upload-server --data-dir {data} --block-device {absent}-block "
            "--scratch-dir {absent}-scratch --termination-log {data}-termination-log 2>{data}-server.log & pid=$!; "
            "until {probe} -o /dev/null {url}/healthz 2>/dev/null; do kill -0 $pid; sleep 0.01; done; "
            "{curl} -o /dev/null -T {src} -X POST -H 'Content-Type: application/octet-stream' {url}{path}; "
            "wait $pid"
        ).format(exports=exports, bin=q(binary), data=q(data), absent=q(absent), probe=self.curl(identity=False),
                 url=url, curl=self.curl(), src=q(source), path=path)


_fixture = None


def fixture(work):
    global _fixture
    if _fixture is None:
        _fixture = UploadFixture(os.path.join(os.path.dirname(work), "upload-fixture"))
    return _fixture


def upload_qcow2(ctx, source):
    from .cases import Command  # noqa: E402 (cases imports this module)
    f = fixture(ctx.work)
    data = os.path.join(ctx.work, "upload-data")
    ours = Command("diskimport", shell=f.server_command(ctx.binary, data, free_port(), source),
                   output=os.path.join(data, "disk.img"), dirs=[data])
    scratch, out = os.path.join(ctx.work, "peer-scratch"), os.path.join(ctx.work, "peer.raw")
    port = f.start_nginx(scratch)
    peer = Command("peer", shell="%s -o /dev/null -T %s https://127.0.0.1:%d/disk.qcow2 && "
                   "qemu-img convert -t writeback -O raw %s/disk.qcow2 %s" % (f.curl(), q(source), port, q(scratch), q(out)),
                   output=out, scratch=scratch)
    return ours, peer, []


def probe(binary, work, tiny_raw):
    """None when `diskimport upload-server` takes a raw upload, else its last line of output."""
    f = fixture(os.path.join(work, "probe"))
    data = os.path.join(work, "probe-upload-data")
    os.makedirs(data, exist_ok=True)
    proc = subprocess.run(f.server_command(binary, data, free_port(), tiny_raw), shell=True, capture_output=True,
                          text=True, timeout=120)
    log_path = data + "-server.log"
    text = open(log_path).read() if os.path.exists(log_path) else proc.stderr
    subprocess.run(["rm", "-rf", data, data + "-server.log", data + "-termination-log"])
    if proc.returncode == 0:
        return None
    lines = text.strip().splitlines()
    return lines[-1] if lines else "exit %d" % proc.returncode
