"""The delta case (issue 21): next week's version of a golden image, imported with last week's volume as its reference
(`convert --reference OLD`), against a plain convert of the same image, both onto the loop-mounted XFS (reflink=1).

The pair is made the way image builders make it: the real image's tree (debootstrap'd Debian, or this machine's files
when there is no debootstrap tree) is the old version; the new one is the same tree plus 8 packages, with apt's caches
removed, and a fresh `mkfs.ext4 -d`, so the files that did not change sit at other offsets. The old volume is imported
onto the XFS from the old raw disk on the cache's filesystem (so it shares nothing with any source); the new version
is a qcow2 on the cache's filesystem too. Both outputs must equal `qemu-img convert -O raw` of the new qcow2.
"""
import os
import shutil
import subprocess

from . import trees
from .cache import log, sh
from .compare import first_difference
from .images import build_partitioned_disk

# Small, common tools with a few libraries among their dependencies: what a week of image updates adds.
EXTRA_PACKAGES = ["htop", "tmux", "rsync", "jq", "tree", "strace", "lsof", "bash-completion"]
ORACLE = "qemu-img.raw"


def add_packages_chroot(tmp, tree):
    """A copy of the debootstrap `tree` with EXTRA_PACKAGES installed by its own apt, then apt's caches removed."""
    sh("cp", "-a", tree, tmp)
    shutil.copy("/etc/resolv.conf", os.path.join(tmp, "etc", "resolv.conf"))
    policy = os.path.join(tmp, "usr", "sbin", "policy-rc.d")  # no service starts inside the chroot
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    proc = os.path.join(tmp, "proc")
    sh("mount", "-t", "proc", "proc", proc)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["chroot", tmp, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["chroot", tmp, "apt-get", "install", "-y", "-qq", "--no-install-recommends"] + EXTRA_PACKAGES,
                       check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["chroot", tmp, "apt-get", "clean"], check=True, env=env)
    finally:
        sh("umount", proc)
    os.unlink(policy)
    lists = os.path.join(tmp, "var", "lib", "apt", "lists")
    for name in os.listdir(lists):
        path = os.path.join(lists, name)
        if os.path.isfile(path):
            os.unlink(path)


def add_packages_host(tmp, tree):
    """Without debootstrap: a copy of the host `tree` with the files of those of EXTRA_PACKAGES this machine has
    (dpkg -L), the nearest thing to installing them."""
    sh("cp", "-a", tree, tmp)
    for package in EXTRA_PACKAGES:
        listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
        for path in listed.stdout.splitlines() if listed.returncode == 0 else []:
            if os.path.isfile(path) and not os.path.islink(path):
                target = os.path.join(tmp, path.lstrip("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(path, target)


def new_version(images):
    """The cached qcow2 of the real image's next version (same size, same tree kind as `images.raw()`)."""
    tree, how = trees.os_tree(images.cache, "host" if images.size_name.endswith("quick") else images.tree_kind,
                              images.used)
    debootstrap = how.startswith("Debian")
    recipe = {"tree": "next", "version": 1, "base": os.path.basename(tree), "packages": EXTRA_PACKAGES}
    next_tree = images.cache.make("tree-next", recipe, "dir",
                                  lambda tmp: (add_packages_chroot if debootstrap else add_packages_host)(tmp, tree))
    raw_recipe = {"disk": "real-next", "version": 1, "virtual": images.virtual, "tree": os.path.basename(next_tree)}
    raw = images.cache.make(images.size_name + "-next", raw_recipe, "raw",
                            lambda tmp: build_partitioned_disk(tmp, next_tree, images.virtual))
    qcow2_recipe = {"kind": "qcow2", "version": 1, "parent": os.path.basename(raw)}
    qcow2 = images.cache.make(images.size_name + "-next-qcow2", qcow2_recipe, "qcow2",
                              lambda tmp: sh("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=65536",
                                             raw, tmp))
    log("delta pair: %s, next version + %s" % (how, ", ".join(EXTRA_PACKAGES)))
    return qcow2


def new_version_gz(images):
    """The next version's qcow2 inside gzip, as a containerDisk layer carries it (pigz -6)."""
    qcow2 = new_version(images)
    command = ["pigz", "-p", "2", "-6", "-n", "-c"]

    def build(tmp):
        with open(tmp, "wb") as out:
            sh(*command, qcow2, stdout=out)
    recipe = {"kind": "qcow2.gz", "version": 1, "parent": os.path.basename(qcow2), "command": command}
    return images.cache.make(images.size_name + "-next-qcow2-gz", recipe, "gz", build)


def xfs_delta(ctx, source):
    """ours: convert --reference (last week's volume) onto XFS; peer: the same convert without it. The new version
    is a local qcow2: nothing to decode, so the index and the comparisons show in full."""
    return delta_commands(ctx, source, new_version(ctx.images))


def xfs_delta_gz(ctx, source):
    """The same with the new version as a qcow2.gz (a containerDisk's layer): the delta's work overlaps the decoding."""
    return delta_commands(ctx, source, new_version_gz(ctx.images))


def delta_commands(ctx, source, new):
    from .cases import convert
    xfs = ctx.devices.xfs()
    old_volume = os.path.join(xfs, "old-volume.raw")
    if not os.path.exists(old_volume):
        sh(ctx.binary, "convert", "--no-sync", source, old_volume)
    oracle = os.path.join(xfs, ORACLE)
    if not os.path.exists(oracle):  # the same new version for either case: qemu-img reads the plain qcow2
        sh("qemu-img", "convert", "-O", "raw", new_version(ctx.images), oracle)
    ours = convert(ctx, new, False, "--reference", old_volume, out=os.path.join(xfs, "delta.raw"))
    peer = convert(ctx, new, False, out=os.path.join(xfs, "plain.raw"))
    peer.label = "peer"
    return ours, peer, []


def same_as_qemu_img(ours, peer):
    """Both outputs are qemu-img's conversion of the new version (kept next to them on the XFS)."""
    oracle = os.path.join(os.path.dirname(ours), ORACLE)
    return first_difference(ours, oracle) or first_difference(peer, oracle)
