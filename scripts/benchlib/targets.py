"""The target cases (formerly scripts/bench-target): the same conversions onto other targets than a file on the work
directory's filesystem. Both need root:

  XFS with reflink=1 (a loop-mounted file): a local qcow2 or raw source on the same XFS can share extents with the
  output (FICLONERANGE) instead of copying them (issue 2: at most 0.2x of qemu-img there).
  the delta case (delta.py): a new version of the real image converted with the old version's volume as its
  --reference, against a plain convert onto the same XFS (issue 21: at least 85% shared, at most 1.2x the time).
  a block device (a loop device over a file): diskimport writes through O_DIRECT and fsyncs; the peer flushes too
  (`qemu-img convert -t writeback`, as CDI runs it). Every run finds the previous run's bytes on the device, so ranges
  without data must really be zeroed.
"""
import os
import subprocess

from .cache import log, sh
from .cases import NO_SYNC, SYNC, Case, convert, qemu_img
from .delta import same_as_qemu_img, xfs_delta, xfs_delta_gz
from .images import copy_data_extents


class Devices:
    """Loop devices and the XFS mount of one bench run; everything is undone by close()."""

    def __init__(self, work_root):
        self.work_root = work_root
        self.undo = []
        self.xfs_dir = None
        self.copies = {}

    def xfs(self):
        if self.xfs_dir is None:
            image, mount = os.path.join(self.work_root, "xfs.img"), os.path.join(self.work_root, "xfs")
            os.makedirs(mount, exist_ok=True)
            with open(image, "wb") as f:
                f.truncate(16 << 30)
            sh("mkfs.xfs", "-q", "-f", "-m", "reflink=1", image)
            loop = self.loop(image)
            sh("mount", loop, mount)
            self.undo.append(lambda: sh("umount", mount))
            self.xfs_dir = mount
            log("XFS reflink=1 mounted on %s (%s)" % (mount, loop))
        return self.xfs_dir

    def copy_to_xfs(self, source):
        """The source, copied onto the XFS with its own extents (holes where it has holes, data where it has data:
        a copy that punched a hole into every zero block would give XFS tens of thousands of extents to clone)."""
        if source not in self.copies:
            target = os.path.join(self.xfs(), os.path.basename(source))
            with open(target, "wb") as f:
                f.truncate(os.path.getsize(source))
            copy_data_extents(source, target, 0)
            self.copies[source] = target
        return self.copies[source]

    def loop(self, backing):
        device = subprocess.run(["losetup", "-f", "--show", backing], check=True, capture_output=True,
                                text=True).stdout.strip()
        self.undo.append(lambda: sh("losetup", "-d", device))
        return device

    def block_device(self, size):
        backing = os.path.join(self.work_root, "block-%d.img" % size)
        with open(backing, "wb") as f:
            f.truncate(size)
        self.undo.append(lambda: os.unlink(backing))
        return self.loop(backing)

    def close(self):
        while self.undo:
            try:
                self.undo.pop()()
            except SystemExit as error:  # keep undoing the rest
                log(str(error))


def xfs_local(ctx, source):
    copy, xfs = ctx.devices.copy_to_xfs(source), ctx.devices.xfs()
    ours = convert(ctx, copy, False, out=os.path.join(xfs, "diskimport.raw"))
    peer = qemu_img(ctx, copy, ["-f", "raw"] if source.endswith(".raw") else [], out=os.path.join(xfs, "peer.raw"))
    return ours, peer, []


def raw_copy(ctx, source):
    return convert(ctx, source, False), qemu_img(ctx, source, ["-f", "raw"]), []


def block(ctx, source):
    device = ctx.devices.block_device(ctx.virtual_size)
    return convert(ctx, source, True, out=device), qemu_img(ctx, source, ["-t", "writeback"], out=device), []


QEMU_RAW = "qemu-img convert -f raw -O raw"
CASES = [
    Case("raw-copy", "target", "real", "raw", QEMU_RAW, "raw", NO_SYNC, None, raw_copy,
         note="a local raw file: sparse copy"),
    Case("xfs-qcow2-64k", "target", "real", "qcow2", "qemu-img convert -O raw", "root", NO_SYNC, 0.2, xfs_local,
         note="source and output on XFS reflink=1"),
    Case("xfs-raw", "target", "real", "raw", QEMU_RAW, "root", NO_SYNC, 0.2, xfs_local,
         note="source and output on XFS reflink=1"),
    Case("xfs-delta", "target", "real", "raw", "diskimport convert (no --reference)", "reference", NO_SYNC, 1.2,
         xfs_delta, compare=same_as_qemu_img,
         note="next week's image (+8 packages, fresh mkfs) with last week's volume as --reference, onto XFS reflink=1; "
              "target: >=85% of its data shared"),
    Case("xfs-delta-gz", "target", "real", "raw", "diskimport convert (no --reference)", "reference", NO_SYNC, 1.2,
         xfs_delta_gz, compare=same_as_qemu_img,
         note="as xfs-delta, the new version as a qcow2.gz (a containerDisk layer): the delta's work overlaps gunzip"),
    Case("block-qcow2-64k", "target", "real", "qcow2", "qemu-img convert -t writeback -O raw", "root", SYNC, None,
         block, note="a loop device; O_DIRECT and fsync against qemu-img's flush"),
]
