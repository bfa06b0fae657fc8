"""The benchmark's images, built on demand and cached (see cache.py):

  real   a partitioned disk (GPT, one ext4 partition at 1 MiB) holding a real OS tree (trees.py): 4 GiB virtual with
         about 1 GB used (quick: 512 MiB virtual, about 150 MB used). The filesystem is made as its own file by
         `mkfs.ext4 -d` and its data extents copied to the partition's offset: no loop mount, no root needed
         (debootstrap itself needs root).
  mixed  the qcow2 engineer's synthetic disk: runs of real files (a tar of /usr) and random data between holes,
         2 GiB virtual with ~900 MB of data (quick: 256 MiB, ~100 MB).

and from each raw disk: qcow2 (64 KiB clusters), zlib- and zstd-compressed qcow2, qcow2 with 512-byte clusters,
qcow2.xz and raw.xz (`xz -T2`: several blocks), qcow2.gz, and a containerDisk OCI layout (disk/disk.img, gzip layer).
"""
import hashlib
import json
import os
import random
import subprocess
import tarfile

from . import trees
from .cache import first_line, log, sh

MiB = 1 << 20
LINUX_FS = "0FC63DAF-8483-4772-8E7D-3D69D8477DE4"

SIZES = {
    # name: (virtual bytes, used bytes, xz preset). Quick images use xz -1 so a fresh cache builds in seconds.
    "real-full": (4096 * MiB, 1000 * 1000 * 1000, "6"),
    "real-quick": (512 * MiB, 150 * 1000 * 1000, "1"),
    "mixed-full": (2048 * MiB, 900 * 1000 * 1000, "6"),
    "mixed-quick": (256 * MiB, 100 * 1000 * 1000, "1"),
}

# qcow2 variants: kind -> qemu-img convert options (from the raw disk).
QCOW2 = {
    "qcow2": ["-o", "cluster_size=65536"],
    "qcow2-zlib": ["-c", "-o", "compression_type=zlib"],
    "qcow2-zstd": ["-c", "-o", "compression_type=zstd"],
    "qcow2-512": ["-o", "cluster_size=512"],
}
# vmdk as qemu-img writes it: hosted sparse (64 KiB grains) and streamOptimized (deflate grains with markers).
VMDK = {
    "vmdk": ["-o", "subformat=monolithicSparse"],
    "vmdk-stream": ["-o", "subformat=streamOptimized"],
}
# The other formats CDI accepts, as qemu-img writes them by default: dynamic vdi, dynamic vhd (vpc) and dynamic vhdx
# (32 MiB blocks for a 4 GiB disk). Kind = qemu-img's format name.
BLOCK_MAP = {"vdi": [], "vpc": [], "vhdx": []}
# Each of those inside gzip (the wrapped case), as the image pipelines of mirrors publish them.
GZIPPED = {"vmdk-stream.gz": "vmdk-stream", "vdi.gz": "vdi", "vpc.gz": "vpc", "vhdx.gz": "vhdx"}


def copy_data_extents(source, target, offset):
    """Copies the data extents of `source` (SEEK_DATA/SEEK_HOLE) into `target` at `offset`, leaving holes as holes."""
    with open(source, "rb") as src, open(target, "r+b") as dst:
        size = os.fstat(src.fileno()).st_size
        position = 0
        while position < size:
            try:
                start = os.lseek(src.fileno(), position, os.SEEK_DATA)
            except OSError:
                break  # only a hole is left
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            done = 0
            while done < end - start:
                at = start + done
                try:
                    n = os.copy_file_range(src.fileno(), dst.fileno(), end - at, at, offset + at)
                except OSError:  # EXDEV across filesystems on older kernels: copy through user space
                    n = os.pwrite(dst.fileno(), os.pread(src.fileno(), min(end - at, 8 * MiB), at), offset + at)
                if n == 0:
                    raise SystemExit("bench: copying %s stopped early at %d" % (source, at))
                done += n
            position = end


def build_partitioned_disk(tmp, tree, virtual):
    """A GPT disk of `virtual` bytes with one ext4 partition (from 1 MiB to the end) holding `tree`."""
    with open(tmp, "wb") as f:
        f.truncate(virtual)
    table = ("label: gpt\nlabel-id: 5A1D6E2B-9C3F-4E0A-8B1D-2C4E6F8A0B1C\nfirst-lba: 2048\n"
             "start=2048, type=%s, uuid=7C0F5E6A-1B2D-4C3E-9F40-5A6B7C8D9E0F, name=root\n" % LINUX_FS)
    sh("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", tmp, input=table.encode())
    layout = json.loads(subprocess.run(["sfdisk", "--json", tmp], check=True, capture_output=True).stdout)
    part = layout["partitiontable"]["partitions"][0]
    start, sectors = part["start"] * 512, part["size"] * 512
    fs = tmp + ".ext4"
    with open(fs, "wb") as f:
        f.truncate(sectors)
    sh("mkfs.ext4", "-q", "-F", "-L", "root", "-U", "3e1a2b4c-5d6e-4f70-8192-a3b4c5d6e7f8", "-E", "root_owner=0:0",
       "-d", tree, fs)
    copy_data_extents(fs, tmp, start)
    os.unlink(fs)


def make_mixed_raw(path, virtual, data_bytes, seed=42):
    """A sparse raw disk: `data_bytes` of real files (tar of /usr) and some random data, in runs of 1-64 MiB
    spread over `virtual` bytes with holes between them."""
    rng = random.Random(seed)
    tar = subprocess.Popen(["tar", "cf", "-", "--ignore-failed-read", "/usr/lib", "/usr/share", "/usr/bin", "/opt/swift"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    runs, total = [], 0
    while total < data_bytes:
        n = min(rng.randint(1, 64) * MiB, data_bytes - total)
        runs.append(n)
        total += n
    slack = virtual - total
    gaps = sorted(rng.randint(0, slack // MiB) * MiB for _ in runs)
    with open(path, "wb") as f:
        f.truncate(virtual)
        offset, previous_gap = 0, 0
        for n, gap in zip(runs, gaps):
            offset += gap - previous_gap
            previous_gap = gap
            f.seek(offset)
            chunk = tar.stdout.read(n)
            if len(chunk) < n:
                chunk += rng.randbytes(n - len(chunk))
            if rng.random() < 0.2:  # some incompressible data too
                chunk = rng.randbytes(n // 4) + chunk[n // 4:]
            f.write(chunk)
            offset += n
    tar.kill()
    tar.wait()


class HashingWriter:
    """A file-like sink that hashes what passes through (the uncompressed layer's diff_id)."""

    def __init__(self, sink):
        self.sink, self.sha = sink, hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        self.sink.write(data)
        return len(data)


def build_containerdisk(qcow2, tmp):
    """An OCI image layout (tag "latest", linux/amd64) with one gzip layer: disk/ and disk/disk.img, uid 107, as
    containerDisks are built."""
    blobs = os.path.join(tmp, "blobs", "sha256")
    os.makedirs(blobs)
    layer_tmp = os.path.join(tmp, "layer.tmp")
    with open(layer_tmp, "wb") as out:
        pigz = subprocess.Popen(["pigz", "-p", "2", "-6", "-n", "-c"], stdin=subprocess.PIPE, stdout=out)
        hashing = HashingWriter(pigz.stdin)
        with tarfile.open(fileobj=hashing, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name, path, mode in [("disk", None, 0o555), ("disk/disk.img", qcow2, 0o444)]:
                info = tarfile.TarInfo(name)
                info.uid = info.gid = 107
                info.mode, info.mtime = mode, 0
                if path is None:
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                else:
                    info.size = os.path.getsize(path)
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
        pigz.stdin.close()
        if pigz.wait() != 0:
            raise SystemExit("bench: pigz failed building the containerDisk layer")
    diff_id = "sha256:" + hashing.sha.hexdigest()

    def put(path_or_bytes):
        if isinstance(path_or_bytes, bytes):
            digest, size = hashlib.sha256(path_or_bytes).hexdigest(), len(path_or_bytes)
            with open(os.path.join(blobs, digest), "wb") as f:
                f.write(path_or_bytes)
        else:
            sha = hashlib.sha256()
            with open(path_or_bytes, "rb") as f:
                for block in iter(lambda: f.read(MiB), b""):
                    sha.update(block)
            digest, size = sha.hexdigest(), os.path.getsize(path_or_bytes)
            os.rename(path_or_bytes, os.path.join(blobs, digest))
        return {"digest": "sha256:" + digest, "size": size}

    layer = put(layer_tmp)
    config = put(json.dumps({"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode())
    manifest = put(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **config),
        "layers": [dict(mediaType="application/vnd.oci.image.layer.v1.tar+gzip", **layer)]}).encode())
    with open(os.path.join(tmp, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(tmp, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(
            mediaType="application/vnd.oci.image.manifest.v1+json", platform={"architecture": "amd64", "os": "linux"},
            annotations={"org.opencontainers.image.ref.name": "latest"}, **manifest)]}, f)
    with open(os.path.join(tmp, "layer.json"), "w") as f:
        json.dump({"layer": layer, "manifest": manifest}, f)


class ImageSet:
    """The images of one disk ("real" or "mixed"), full-size or quick, each built the first time it is asked for."""

    def __init__(self, cache, disk, quick, tree_kind="auto"):
        self.cache, self.disk, self.tree_kind = cache, disk, tree_kind
        self.size_name = "%s-%s" % (disk, "quick" if quick else "full")
        self.virtual, self.used, self.xz_preset = SIZES[self.size_name]
        self.description = None
        self._raw = None
        self.paths = {}

    def raw(self):
        if self._raw is None:
            if self.disk == "real":
                # Quick images always use this machine's files: CI must not wait for (or depend on) a mirror.
                tree, how = trees.os_tree(self.cache, "host" if self.size_name.endswith("quick") else self.tree_kind,
                                          self.used)
                recipe = {"disk": "real", "version": 1, "virtual": self.virtual, "tree": os.path.basename(tree),
                          "mkfs": first_line("mke2fs", "-V")}
                self._raw = self.cache.make(self.size_name, recipe, "raw",
                                            lambda tmp: build_partitioned_disk(tmp, tree, self.virtual))
                self.description = "GPT + ext4, %d MiB virtual, %s" % (self.virtual // MiB, how)
            else:
                recipe = {"disk": "mixed", "version": 1, "virtual": self.virtual, "data": self.used}
                self._raw = self.cache.make(self.size_name, recipe, "raw",
                                            lambda tmp: make_mixed_raw(tmp, self.virtual, self.used))
                self.description = "synthetic: %d MiB virtual, %d MB of runs of /usr files and random data" % (
                    self.virtual // MiB, self.used // 10**6)
        return self._raw

    def get(self, kind):
        """The path of image `kind`: raw, qcow2 (64 KiB clusters), qcow2-zlib, qcow2-zstd, qcow2-512, qcow2.xz,
        raw.xz, qcow2.gz, containerdisk (an OCI layout directory)."""
        if kind == "raw":
            return self.raw()
        if kind == "tiny-qcow2":  # 128 KiB virtual (the probes' image): for start-up, not throughput
            return tiny_images(self.cache)["qcow2"]
        if kind not in self.paths:
            ext, parent_kind, command, build = self.recipe_of(kind)
            parent = self.get(parent_kind)
            recipe = {"kind": kind, "version": 1, "parent": os.path.basename(parent), "command": command,
                      "tool": first_line(command[0], "--version")}
            self.paths[kind] = self.cache.make("%s-%s" % (self.size_name, kind), recipe, ext,
                                               lambda tmp: build(parent, tmp))
        return self.paths[kind]

    def recipe_of(self, kind):
        """(extension, parent kind, command, build(parent, tmp)) of a derived image."""
        def piped(command):
            def build(parent, tmp):
                with open(tmp, "wb") as out:
                    sh(*command, parent, stdout=out)
            return build
        if kind in QCOW2:
            command = ["qemu-img", "convert", "-f", "raw", "-O", "qcow2"] + QCOW2[kind]
            return "qcow2", "raw", command, lambda parent, tmp: sh(*command, parent, tmp)
        if kind in VMDK:
            command = ["qemu-img", "convert", "-f", "raw", "-O", "vmdk"] + VMDK[kind]
            return "vmdk", "raw", command, lambda parent, tmp: sh(*command, parent, tmp)
        if kind in BLOCK_MAP:
            command = ["qemu-img", "convert", "-f", "raw", "-O", kind] + BLOCK_MAP[kind]
            return kind, "raw", command, lambda parent, tmp: sh(*command, parent, tmp)
        if kind in GZIPPED:
            command = ["pigz", "-p", "2", "-6", "-n", "-c"]
            return "gz", GZIPPED[kind], command, piped(command)
        if kind in ("qcow2.xz", "raw.xz"):
            command = ["xz", "-T2", "-" + self.xz_preset, "-c"]
            return "xz", kind[:-3], command, piped(command)
        if kind == "qcow2.gz":
            command = ["pigz", "-p", "2", "-6", "-n", "-c"]
            return "gz", "qcow2", command, piped(command)
        if kind == "containerdisk":
            return "oci", "qcow2", ["pigz", "-p", "2", "-6", "-n"], build_containerdisk
        raise KeyError(kind)


def tiny_images(cache):
    """Small images for the feature probes (does this diskimport support xz, gzip, …?)."""
    directory = os.path.join(cache.directory, "probe")
    os.makedirs(directory, exist_ok=True)
    raw = os.path.join(directory, "tiny.raw")
    if not os.path.exists(raw + ".xz"):
        with open(raw, "wb") as f:
            f.write(os.urandom(64 * 1024) + bytes(64 * 1024))
        sh("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, raw + ".qcow2")
        with open(raw + ".qcow2.gz", "wb") as out:
            sh("gzip", "-c", raw + ".qcow2", stdout=out)
        sh("xz", "-k", "-f", raw)
    images = {"raw": raw, "qcow2": raw + ".qcow2", "qcow2.gz": raw + ".qcow2.gz", "raw.xz": raw + ".xz"}
    for fmt in ["vmdk"] + list(BLOCK_MAP):
        images[fmt] = "%s.%s" % (raw, fmt)
        if not os.path.exists(images[fmt]):
            sh("qemu-img", "convert", "-f", "raw", "-O", fmt, raw, images[fmt])
    return images
