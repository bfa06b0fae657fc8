"""Where the real image's files come from: a minimal Debian made by debootstrap when the apt mirror answers, else a
copy of real system directories of this machine (/usr, never /etc: no secrets go into images served on loopback)."""
import os
import re
import shutil
import stat
import urllib.request

from .cache import log, sh

SUITE = "bookworm"
# A small server system: kernel and initramfs, systemd, ssh, python, perl, git (about 1 GB with the debs debootstrap
# leaves in /var/cache/apt/archives). (cloud-init is left out: debootstrap cannot resolve python3-cryptography's
# virtual dependencies.)
PACKAGES = ["linux-image-amd64", "initramfs-tools", "systemd-sysv", "udev", "openssh-server", "python3", "perl",
            "locales", "ca-certificates", "curl", "less", "vim", "iproute2", "ifupdown", "isc-dhcp-client", "sudo",
            "man-db", "git"]
HOST_DIRS = ["/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/share", "/usr/lib", "/usr/libexec",
             "/usr/include"]


def apt_mirror():
    """The first Debian mirror apt is configured with (deb822 or one-line sources)."""
    for path in ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]:
        try:
            text = open(path).read()
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or \
            re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s+\S+", text, re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def mirror_reachable(mirror, timeout=5):
    try:
        with urllib.request.urlopen("%s/dists/%s/Release" % (mirror, SUITE), timeout=timeout) as response:
            return response.status == 200
    except Exception:  # any network failure means "use the local fallback"
        return False


def debootstrap_recipe(mirror):
    return {"tree": "debootstrap", "version": 1, "suite": SUITE, "variant": "minbase", "packages": PACKAGES,
            "mirror": mirror}


def host_recipe(budget):
    return {"tree": "host", "version": 1, "dirs": HOST_DIRS, "budget": budget}


def build_debootstrap(tmp, mirror):
    # The debs debootstrap leaves in /var/cache/apt/archives stay: real images often carry such caches too.
    sh("debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, tmp, mirror)
    for mount in ("proc", "sys", "dev/pts"):  # debootstrap unmounts these itself; make sure, before copying the tree
        path = os.path.join(tmp, mount)
        if os.path.ismount(path):
            sh("umount", path)


def build_host_tree(tmp, budget):
    """Copies regular files (and symlinks) of HOST_DIRS, walked in sorted order, until `budget` bytes are copied."""
    copied = 0
    seen = set()
    os.makedirs(tmp)
    for top in HOST_DIRS:
        for directory, dirs, files in os.walk(top):
            dirs.sort()
            if directory in seen:
                dirs[:] = []
                continue
            seen.add(directory)
            target_dir = os.path.join(tmp, directory.lstrip("/"))
            os.makedirs(target_dir, exist_ok=True)
            for name in sorted(files):
                source = os.path.join(directory, name)
                target = os.path.join(target_dir, name)
                if os.path.lexists(target):
                    continue
                try:
                    info = os.lstat(source)
                    if stat.S_ISLNK(info.st_mode):
                        os.symlink(os.readlink(source), target)
                    elif stat.S_ISREG(info.st_mode) and os.access(source, os.R_OK):
                        shutil.copy2(source, target)
                        copied += info.st_size
                except OSError:
                    continue  # a file that vanished or cannot be read: the tree is a sample anyway
                if copied >= budget:
                    return
    log("host tree: only %d MB of files found (wanted %d MB)" % (copied // 10**6, budget // 10**6))


def tree_size(path):
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def os_tree(cache, kind, budget):
    """(path, description) of a root tree. kind: "debootstrap", "host", or "auto" (debootstrap when it is cached or
    the mirror answers within 5 s, else host)."""
    mirror = apt_mirror()
    if kind in ("auto", "debootstrap"):
        recipe = debootstrap_recipe(mirror)
        cached = os.path.exists(cache.path("tree-debootstrap", recipe, "dir"))
        if not cached and os.geteuid() != 0:
            if kind == "debootstrap":
                raise SystemExit("bench: debootstrap needs root")
            log("not root: using this machine's /usr instead of debootstrap")
        elif cached or mirror_reachable(mirror):
            path = cache.make("tree-debootstrap", recipe, "dir", lambda tmp: build_debootstrap(tmp, mirror))
            return path, "Debian %s minbase + %d packages (debootstrap from %s)" % (SUITE, len(PACKAGES), mirror)
        elif kind == "debootstrap":
            raise SystemExit("bench: the apt mirror %s does not answer: no debootstrap tree" % mirror)
        else:
            log("apt mirror %s unreachable: using this machine's /usr instead of debootstrap" % mirror)
    path = cache.make("tree-host", host_recipe(budget), "dir", lambda tmp: build_host_tree(tmp, budget))
    return path, "%d MB of this machine's %s (mkfs.ext4 -d)" % (budget // 10**6, ", ".join(HOST_DIRS[:4]) + ", …")
