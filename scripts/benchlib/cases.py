"""The cases: what diskimport runs, what users run today instead (the peer), and for streaming cases the slowest single
stage alone. Every case's diskimport output is compared byte for byte with the peer's.

Durability is like for like in each case: local conversions skip the flush on both sides (`qemu-img convert` does not
fsync by default, so diskimport runs with --no-sync); CDI's paths flush on both sides (CDI runs `qemu-img convert -t
writeback`, which fdatasyncs; diskimport fsyncs by default).
"""
import json
import os
import shlex
from dataclasses import dataclass, field
from typing import Callable, Optional

NO_SYNC = "no fsync (both)"
SYNC = "fsync (both)"


@dataclass
class Command:
    label: str
    argv: Optional[list] = None   # run directly, or
    shell: Optional[str] = None   # run with sh -c
    env: dict = field(default_factory=dict)
    output: Optional[str] = None  # where the disk is when the command is done
    scratch: Optional[str] = None  # a directory the command fills; measured after each run, then emptied
    dirs: list = field(default_factory=list)  # directories that must exist, empty, before each run
    json: bool = False            # stdout ends with diskimport's --json summary


@dataclass
class Case:
    name: str
    group: str       # "issue" (the table), "mixed" (synthetic image), "target" (bench-target's filesystems)
    disk: str        # "real" or "mixed"
    image: str       # image kind (images.ImageSet.get)
    peer_label: str
    feature: str     # probes.py: what the diskimport binary must support
    durability: str
    target: Optional[float]  # the ratio the issues ask for, or None
    build: Callable  # build(ctx, source_path) -> (ours, peer, [stages])
    note: str = ""
    # The stage the pipeline is held against (its label), and how close it must come; default: the slowest stage.
    reference_stage: Optional[str] = None
    stage_target: float = 1.15
    # Cases that time something short run it `per_run` times per sample; times are then also given per run, and
    # `target_ms` (if any) bounds diskimport's time per run.
    per_run: int = 1
    target_ms: Optional[float] = None
    # compare(ours_output, peer_output) -> None or a one-line difference; default: byte for byte (compare.py).
    compare: Optional[Callable] = None


def q(path):
    return shlex.quote(str(path))


def convert(ctx, source, sync, *flags, out=None):
    out = out or os.path.join(ctx.work, "diskimport.raw")
    argv = [ctx.binary, "convert", source, out, "--json"] + ([] if sync else ["--no-sync"]) + list(flags)
    return Command("diskimport", argv=argv, output=out, json=True)


def qemu_img(ctx, source, extra=(), out=None):
    out = out or os.path.join(ctx.work, "peer.raw")
    return Command("peer", argv=["qemu-img", "convert", *extra, "-O", "raw", source, out], output=out)


def local_qcow2(ctx, source):
    return convert(ctx, source, False), qemu_img(ctx, source), []


def raw_xz(ctx, source):
    out = os.path.join(ctx.work, "peer.raw")
    peer = Command("peer", shell="xz -T2 -dc %s > %s" % (q(source), q(out)), output=out)
    stage = Command("xz -T2 -dc > /dev/null", shell="xz -T2 -dc %s > /dev/null" % q(source))
    return convert(ctx, source, False), peer, [stage]


IGZIP_STAGE = "igzip -dc > /dev/null"


def gzip_stages(ctx, source):
    """The gzip decoders alone on the same bytes: ISA-L's igzip (the issue's bound), pigz, and CDI's pgzip."""
    stages = [Command(IGZIP_STAGE, shell="igzip -dc %s > /dev/null" % q(source)),
              Command("pigz -dc > /dev/null", shell="pigz -dc %s > /dev/null" % q(source))]
    pgzip, _ = ctx.peers.pgzip()
    if pgzip:
        stages.append(Command("pgzip > /dev/null", shell="%s %s > /dev/null" % (q(pgzip), q(source))))
    return stages


def gunzip_then_qemu_img(ctx, source, decoder, image="disk.qcow2"):
    out, scratch = os.path.join(ctx.work, "peer.raw"), os.path.join(ctx.work, "peer-scratch")
    return Command("peer", shell="%s %s > %s/%s && qemu-img convert -O raw %s/%s %s" % (
        decoder, q(source), q(scratch), image, q(scratch), image, q(out)), output=out, scratch=scratch)


def qcow2_gz(ctx, source):
    return convert(ctx, source, False), gunzip_then_qemu_img(ctx, source, "gzip -dc"), gzip_stages(ctx, source)


def vmdk_gz(ctx, source):
    """A streamOptimized vmdk inside gzip: streamed by its grain markers (no scratch) against gunzip to scratch and
    qemu-img; the stages are the gzip decoders alone."""
    return convert(ctx, source, False), gunzip_then_qemu_img(ctx, source, "gzip -dc", "disk.vmdk"), gzip_stages(ctx, source)


def block_map_gz(extension):
    """A vdi, vhd or vhdx inside gzip: streamed front to back (qemu-img writes the tables before the data, so no
    scratch) against gunzip to scratch and qemu-img; the stages are the gzip decoders alone."""
    def make(ctx, source):
        return (convert(ctx, source, False), gunzip_then_qemu_img(ctx, source, "gzip -dc", "disk." + extension),
                gzip_stages(ctx, source))
    return make


def qcow2_gz_pgzip(ctx, source):
    """CDI's own decoder as the first step instead of GNU gzip (the stages are qcow2.gz's)."""
    pgzip, _ = ctx.peers.pgzip()
    return convert(ctx, source, False), gunzip_then_qemu_img(ctx, source, q(pgzip)), []


def same_virtual_size(ours, peer):
    """`info --output json` of both: the virtual size (and format) must agree."""
    with open(ours) as a, open(peer) as b:
        mine, theirs = json.load(a), json.load(b)
    for key in ("virtual-size", "format"):
        if mine.get(key) != theirs.get(key):
            return "%s differs: %r and %r" % (key, mine.get(key), theirs.get(key))
    return None


INFO_RUNS = 20


def info_startup(ctx, source):
    """Start-up: `info` on a small qcow2, INFO_RUNS times per sample (one run takes milliseconds)."""
    def loop(label, command, name):
        out = os.path.join(ctx.work, name)
        return Command(label, shell="for i in $(seq %d); do %s --output json %s > %s; done" % (
            INFO_RUNS, command, q(source), q(out)), output=out)
    return loop("diskimport", q(ctx.binary) + " info", "ours.json"), loop("peer", "qemu-img info", "peer.json"), []


def cdi_http_peer(ctx, url):
    """CDI's path for an HTTP(S) qcow2.xz: download to scratch, decompress to scratch, qemu-img convert."""
    out, scratch = os.path.join(ctx.work, "peer.raw"), os.path.join(ctx.work, "peer-scratch")
    curl = ctx.servers.curl_config()
    shell = ("curl -K {curl} -o {s}/disk.qcow2.xz {url} && xz -dc {s}/disk.qcow2.xz > {s}/disk.qcow2 && "
             "qemu-img convert -t writeback -O raw {s}/disk.qcow2 {out}").format(
        curl=q(curl), s=q(scratch), url=q(url), out=q(out))
    return Command("peer", shell=shell, output=out, scratch=scratch)


def http_stages(ctx, url, source):
    return [Command("curl -o /dev/null", shell="curl -K %s -o /dev/null %s" % (q(ctx.servers.curl_config()), q(url))),
            Command("xz -T2 -dc > /dev/null", shell="xz -T2 -dc %s > /dev/null" % q(source))]


def https_qcow2_xz(ctx, source):
    s = ctx.servers
    url = s.publish(source, os.path.basename(source))
    ours = convert(ctx, url, True, "--ca-file", s.env["CA_FILE"], "--user", s.env["FILES_USER"],
                   "--password-file", s.env["FILES_PASSWORD_FILE"])
    return ours, cdi_http_peer(ctx, url), http_stages(ctx, url, source)


def pod_https_qcow2_xz(ctx, source):
    s = ctx.servers
    url = s.publish(source, os.path.basename(source))
    data = os.path.join(ctx.work, "pod-data")
    env = {"IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": url, "IMPORTER_CONTENTTYPE": "kubevirt",
           "IMPORTER_IMAGE_SIZE": str(ctx.virtual_size), "FILESYSTEM_OVERHEAD": "0", "PREALLOCATION": "false",
           "IMPORTER_ACCESS_KEY_ID": s.env["FILES_USER"], "IMPORTER_SECRET_KEY": s.password("FILES_PASSWORD_FILE"),
           "IMPORTER_CERT_DIR": s.env["CERT_DIR"], "OWNER_UID": "bench"}
    absent = os.path.join(ctx.work, "absent")  # no block volume, no scratch volume: scratch would fail the import
    ours = Command("diskimport", argv=[ctx.binary, "import", "--data-dir", data, "--block-device", absent + "-block",
                                       "--scratch-dir", absent + "-scratch", "--metrics-port", "0",
                                       "--termination-log", os.path.join(ctx.work, "termination-log")],
                   env=env, output=os.path.join(data, "disk.img"), dirs=[data])
    return ours, cdi_http_peer(ctx, url), http_stages(ctx, url, source)


def s3_qcow2_xz(ctx, source):
    """An S3 object over HTTPS (moto, SigV4): diskimport streams it; CDI's path signs a curl to scratch (as
    `aws s3 cp` would), decompresses to scratch and converts."""
    s = ctx.servers
    key = "bench/" + os.path.basename(source)
    url = s.s3_put(source, key)
    ours = convert(ctx, url, True, "--s3-endpoint", s.s3_endpoint(), "--ca-file", s.env["CA_FILE"],
                   "--access-key-file", s.env["S3_ACCESS_KEY_FILE"], "--secret-key-file", s.env["S3_SECRET_KEY_FILE"])
    object_url = "%s/disks/%s" % (s.s3_endpoint(), key)
    out, scratch = os.path.join(ctx.work, "peer.raw"), os.path.join(ctx.work, "peer-scratch")
    peer = Command("peer", shell=(
        "curl -K {curl} -o {s}/disk.qcow2.xz {url} && xz -dc {s}/disk.qcow2.xz > {s}/disk.qcow2 && "
        "qemu-img convert -t writeback -O raw {s}/disk.qcow2 {out}").format(
        curl=q(s.s3_curl_config()), s=q(scratch), url=q(object_url), out=q(out)), output=out, scratch=scratch)
    stages = [Command("curl (signed) -o /dev/null", shell="curl -K %s -o /dev/null %s" % (q(s.s3_curl_config()), q(object_url))),
              Command("xz -T2 -dc > /dev/null", shell="xz -T2 -dc %s > /dev/null" % q(source))]
    return ours, peer, stages


def registry_gzip(ctx, layout):
    s = ctx.servers
    reference = s.push(layout, "bench/" + ctx.size_name)
    ours = convert(ctx, reference, True, "--cert-dir", s.env["CERT_DIR"], "--user", s.env["REG_USER"],
                   "--password-file", s.env["REG_PASSWORD_FILE"])
    layer = ctx.layer_of(layout)
    hex_digest = layer["digest"].split(":", 1)[1]
    out, scratch = os.path.join(ctx.work, "peer.raw"), os.path.join(ctx.work, "peer-scratch")
    peer = Command("peer", shell=(
        "skopeo copy -q --src-cert-dir {certs} --src-authfile {auth} {ref} dir:{s}/image && mkdir {s}/disk && "
        "tar -xzf {s}/image/{hex} -C {s}/disk && qemu-img convert -t writeback -O raw {s}/disk/disk/disk.img {out}"
    ).format(certs=q(s.env["CERT_DIR"]), auth=q(s.auth_file()), ref=q(reference), s=q(scratch), hex=hex_digest,
             out=q(out)), output=out, scratch=scratch)
    blob_url = "https://%s/v2/bench/%s/blobs/%s" % (s.registry(), ctx.size_name, layer["digest"])
    blob = os.path.join(layout, "blobs", "sha256", hex_digest)
    stages = [Command("curl blob -o /dev/null", shell="curl -K %s -o /dev/null %s" % (
                  q(s.registry_curl_config()), q(blob_url))),
              Command(IGZIP_STAGE, shell="igzip -dc %s > /dev/null" % q(blob))]
    return ours, peer, stages


from .upload import upload_qcow2  # noqa: E402

QEMU = "qemu-img convert -O raw"
CDI_HTTP = "curl > scratch; xz -dc > scratch; qemu-img convert -t writeback"
CDI_REGISTRY = "skopeo copy dir:scratch; tar -xz; qemu-img convert -t writeback"
CDI_UPLOAD = "TLS body > scratch; qemu-img convert -t writeback"

CASES = [
    Case("qcow2-64k", "issue", "real", "qcow2", QEMU, "qcow2", NO_SYNC, 0.9, local_qcow2),
    Case("qcow2-zlib", "issue", "real", "qcow2-zlib", QEMU, "qcow2", NO_SYNC, 0.5, local_qcow2),
    Case("qcow2-zstd", "issue", "real", "qcow2-zstd", QEMU, "qcow2", NO_SYNC, None, local_qcow2),
    Case("qcow2-512", "issue", "real", "qcow2-512", QEMU, "qcow2", NO_SYNC, 0.3, local_qcow2),
    Case("raw.xz", "issue", "real", "raw.xz", "xz -T2 -dc > file", "xz", NO_SYNC, 1.1, raw_xz),
    Case("qcow2.gz", "issue", "real", "qcow2.gz", "gzip -dc > scratch; " + QEMU, "gzip-qcow2", NO_SYNC, 0.2,
         qcow2_gz, reference_stage=IGZIP_STAGE, stage_target=1.1),
    Case("qcow2.gz-pgzip", "issue", "real", "qcow2.gz", "pgzip > scratch; " + QEMU, "pgzip", NO_SYNC, None,
         qcow2_gz_pgzip, note="CDI's gzip reader (klauspost/pgzip) as the first step"),
    Case("https-qcow2.xz", "issue", "real", "qcow2.xz", CDI_HTTP, "https", SYNC, 0.5, https_qcow2_xz),
    Case("registry", "issue", "real", "containerdisk", CDI_REGISTRY, "registry", SYNC, 0.2, registry_gzip,
         reference_stage=IGZIP_STAGE, stage_target=1.1),
    Case("s3-qcow2.xz", "issue", "real", "qcow2.xz", "curl --aws-sigv4 > scratch; xz -dc > scratch; qemu-img convert -t writeback",
         "s3", SYNC, 0.5, s3_qcow2_xz, note="moto over HTTPS, every request SigV4-signed and verified"),
    Case("pod-https-qcow2.xz", "issue", "real", "qcow2.xz", CDI_HTTP, "pod", SYNC, 0.5, pod_https_qcow2_xz,
         note="diskimport import with CDI's environment"),
    Case("info-startup", "issue", "real", "tiny-qcow2", "qemu-img info --output json", "qcow2", NO_SYNC, None,
         info_startup, note="start-up: %d runs per sample, times per run" % INFO_RUNS, per_run=INFO_RUNS,
         target_ms=10, compare=same_virtual_size),
    # Local vmdk: as a local qcow2, diskimport convert against qemu-img convert -O raw.
    Case("vmdk-sparse", "issue", "real", "vmdk", QEMU, "vmdk", NO_SYNC, 0.9, local_qcow2),
    Case("vmdk-stream", "issue", "real", "vmdk-stream", QEMU, "vmdk", NO_SYNC, 0.4, local_qcow2,
         note="streamOptimized: deflate grains inflated on every core"),
    Case("vmdk-stream.gz", "issue", "real", "vmdk-stream.gz", "gzip -dc > scratch; " + QEMU, "vmdk", NO_SYNC, None,
         vmdk_gz, note="streamed by grain markers, 0 scratch; bound: 1.15x the slowest stage alone"),
    # vdi, vhd (vpc) and vhdx as qemu-img writes them (dynamic): local, and inside gzip.
    Case("vdi", "issue", "real", "vdi", QEMU, "vdi", NO_SYNC, 0.9, local_qcow2),
    Case("vpc", "issue", "real", "vpc", QEMU, "vpc", NO_SYNC, 0.9, local_qcow2),
    Case("vhdx", "issue", "real", "vhdx", QEMU, "vhdx", NO_SYNC, 0.9, local_qcow2),
    Case("vdi.gz", "issue", "real", "vdi.gz", "gzip -dc > scratch; " + QEMU, "vdi", NO_SYNC, None, block_map_gz("vdi"),
         note="streamed front to back, 0 scratch; bound: 1.15x the slowest stage alone"),
    Case("vpc.gz", "issue", "real", "vpc.gz", "gzip -dc > scratch; " + QEMU, "vpc", NO_SYNC, None, block_map_gz("vhd"),
         note="streamed front to back, 0 scratch; bound: 1.15x the slowest stage alone"),
    Case("vhdx.gz", "issue", "real", "vhdx.gz", "gzip -dc > scratch; " + QEMU, "vhdx", NO_SYNC, None,
         block_map_gz("vhdx"), note="streamed front to back, 0 scratch; bound: 1.15x the slowest stage alone"),
    Case("upload-qcow2", "issue", "real", "qcow2", CDI_UPLOAD, "upload", SYNC, 0.5, upload_qcow2,
         note="diskimport upload-server; the peer saves the body to scratch (nginx, TLS) first"),
    Case("mixed-qcow2-64k", "mixed", "mixed", "qcow2", QEMU, "qcow2", NO_SYNC, 0.9, local_qcow2),
    Case("mixed-qcow2-zlib", "mixed", "mixed", "qcow2-zlib", QEMU, "qcow2", NO_SYNC, 0.5, local_qcow2),
    Case("mixed-qcow2-512", "mixed", "mixed", "qcow2-512", QEMU, "qcow2", NO_SYNC, 0.3, local_qcow2),
]
