"""A Debian bookworm root made with debootstrap, for running the kiosk playbook through a
chroot connection: made, mounted, audited with lynis and always unmounted."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
RELEASE = "bookworm"
# python3 lets Ansible run its modules in the root; everything else comes from the playbook.
INCLUDE = "python3"
CACHE = Path.home() / ".cache" / "madoguchi"


def require_tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise RuntimeError(
            f"missing {', '.join(missing)}: run scripts/install-debian-packages.sh (make setup)"
        )


def make_root(target: Path) -> None:
    """debootstrap --variant=minbase; the downloaded packages are kept as a tarball in
    ~/.cache/madoguchi so local reruns skip the download (a fresh machine fetches them)."""
    require_tools("debootstrap", "chroot")
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"debootstrap-{RELEASE}-minbase.tgz"
    common = ["--variant=minbase", f"--include={INCLUDE}"]
    if not tarball.exists():
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["debootstrap", *common, f"--make-tarball={partial}", RELEASE,
             str(target.with_name(target.name + "-download")), MIRROR],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        partial.rename(tarball)
    subprocess.run(
        ["debootstrap", *common, f"--unpack-tarball={tarball}", RELEASE, str(target), MIRROR],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    # Packages install in the root but their services never start (the root is no host).
    policy = target / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# installed by the kiosk image test\nexit 101\n")
    policy.chmod(0o755)
    # No fsync per unpacked file (as debootstrap does while bootstrapping): the root is thrown
    # away after the test, and apt's installs take half the time.
    (target / "etc/dpkg/dpkg.cfg.d/madoguchi-test-unsafe-io").write_text("force-unsafe-io\n")


def unmount_all(root: Path) -> None:
    """Unmount whatever is still mounted under the root, deepest first (debootstrap mounts
    /proc itself while it configures packages, and leaves it if it is interrupted)."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        if subprocess.run(["umount", point], check=False).returncode != 0:
            subprocess.run(["umount", "-l", point], check=False)


def fstab_proc_options(root: Path) -> str:
    """The mount options the root's /etc/fstab gives /proc (as its boot would mount it)."""
    fstab = root / "etc/fstab"
    for line in fstab.read_text().splitlines() if fstab.exists() else []:
        fields = line.split()
        if len(fields) >= 4 and fields[1] == "/proc" and fields[2] == "proc":
            return _numeric_gid(root, fields[3])
    return "defaults"


def _numeric_gid(root: Path, options: str) -> str:
    """mount(8) runs outside the root: a group name becomes the root's group id."""
    groups = {
        entry.split(":")[0]: entry.split(":")[2]
        for entry in (root / "etc/group").read_text().splitlines()
    }
    return re.sub(r"\bgid=([a-z_][\w-]*)", lambda m: f"gid={groups[m.group(1)]}", options)


@contextlib.contextmanager
def mounted_proc(root: Path, options: str = "defaults") -> Iterator[None]:
    """/proc in the root (apt's maintainer scripts and lynis need it), unmounted in all cases.
    A separate proc instance: its options (hidepid) do not touch the machine's own /proc."""
    proc = root / "proc"
    subprocess.run(["mount", "-t", "proc", "-o", options, "proc", str(proc)], check=True)
    try:
        yield
    finally:
        if subprocess.run(["umount", str(proc)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(proc)], check=False)


def chroot(root: Path, *argv: str, user: str | None = None, timeout: float = 300) -> str:
    command = ["chroot"]
    if user:
        command.append(f"--userspec={user}:{user}")
    result = subprocess.run(
        [*command, str(root), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"},
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} in the root failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


# KRNL-6000 compares the *running* kernel's sysctl values with lynis's table: in a chroot that
# is the test machine's kernel, not the kiosk's (whose /etc/sysctl.d applies at its boot, and
# must never be applied to the test machine). It is skipped through lynis's own profile, and
# test_sysctl_covers_lynis_table checks the same table against the image's configuration.
LYNIS_PROFILE = "skip-test=KRNL-6000\n"


def lynis_table() -> dict[str, set[str]]:
    """lynis's sysctl key → accepted values (its default profile)."""
    table: dict[str, set[str]] = {}
    for line in Path("/etc/lynis/default.prf").read_text().splitlines():
        if line.startswith("config-data=sysctl;"):
            _, key, values, *_ = line.split(";")
            table[key] = set(values.split("|"))
    return table


def lynis_audit(root: Path) -> tuple[int, str]:
    """Run the machine's lynis inside the root (its checks then see the root's packages and
    files) and return the hardening index and the warnings/suggestions."""
    require_tools("lynis")
    copy = root / "opt/lynis-audit"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree("/usr/share/lynis", copy, symlinks=True)
    shutil.copytree("/etc/lynis/plugins", copy / "plugins", symlinks=True)
    shutil.copy2("/usr/sbin/lynis", copy / "lynis")
    shutil.copy2("/etc/lynis/default.prf", copy / "default.prf")
    (copy / "custom.prf").write_text(LYNIS_PROFILE)
    report = root / "tmp/lynis-report.dat"
    report.unlink(missing_ok=True)
    try:
        chroot(
            root,
            "/bin/sh",
            "-c",
            "cd /opt/lynis-audit && ./lynis audit system --quick --no-colors "
            "--log-file /tmp/lynis.log --report-file /tmp/lynis-report.dat",
            timeout=600,
        )
        text = report.read_text(errors="replace")
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    match = re.search(r"^hardening_index=(\d+)$", text, re.MULTILINE)
    assert match, "lynis wrote no hardening index"
    findings = "\n".join(
        line for line in text.splitlines() if line.startswith(("warning[]=", "suggestion[]="))
    )
    return int(match.group(1)), findings


class Phases:
    """Wall time of each phase, printed at the end of the module."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.times[name] = time.monotonic() - start
            print(f"[kiosk image] {name}: {self.times[name]:.0f} s", flush=True)


def is_root() -> bool:
    return os.geteuid() == 0
