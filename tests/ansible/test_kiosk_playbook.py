"""The kiosk playbook run for real against a Debian bookworm root (debootstrap, chroot
connection; services installed and enabled, never started), then checked: files, units,
users, sshd, nftables, the agent unit's sandbox, Chromium's policies, lynis before and after,
and a second run that changes nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.ansible.kiosk_root import (
    Phases,
    chroot,
    fstab_proc_options,
    is_root,
    lynis_audit,
    lynis_table,
    make_root,
    mounted_proc,
    require_tools,
    unmount_all,
)

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
# debootstrap, two playbook runs and two lynis audits: minutes, not the default 120 s.
pytestmark = pytest.mark.timeout(1500)

ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0test admin@example"
GOVERNMENT_SITES = ["https://myna.go.jp/*", "https://img.myna.go.jp/*"]
SITE_VARS = {
    "madoguchi_site_id": "test-site",
    "madoguchi_broker_host": "broker.example.test",
    "madoguchi_broker_port": 8883,
    "madoguchi_control_plane_url": "https://control.example.test",
    "madoguchi_turn_urls": ["turn:198.51.100.20:3478?transport=udp", "turns:turn.example.test:443"],
    "madoguchi_ntp_servers": ["ntp.example.test"],
    "madoguchi_egress_allow": [
        {"host": "203.0.113.0/24", "ports": [443], "proto": "tcp"},
        {"host": "myna.go.jp", "ports": [443], "proto": "tcp"},
    ],
    "madoguchi_government_sites": GOVERNMENT_SITES,
    "madoguchi_admin_ssh_keys": [ADMIN_KEY],
}


@dataclass
class KioskImage:
    root: Path
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    lynis_before: int = 0
    lynis_after: int = 0
    lynis_findings: str = ""
    phases: Phases = field(default_factory=Phases)


def _inventory(path: Path, root: Path) -> Path:
    inventory = {
        "kiosks": {
            "children": {
                "site_test_site": {
                    "hosts": {
                        "kiosk-t1": {
                            "ansible_connection": "community.general.chroot",
                            "ansible_host": str(root),
                            "ansible_python_interpreter": "/usr/bin/python3",
                            "ansible_become": False,
                            "madoguchi_kiosk_id": "kiosk-t1",
                        }
                    },
                    "vars": SITE_VARS,
                }
            }
        }
    }
    path.write_text(json.dumps(inventory))
    return path


def _source_snapshot(target: Path) -> Path:
    """The project as it is now, for the wheel the playbook builds (the work tree may change
    while the test runs; building also writes build/ and *.egg-info into the source)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "node_modules")
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for package in (
        "protocol",
        "edge",
        "cloud",
        "provisioning",
        "madoguchi",
        "dashboards",
        "bench",
    ):
        shutil.copytree(ROOT / package, target / package, ignore=ignore)
    return target


def _playbook(tmp: Path, inventory: Path, source: Path) -> subprocess.CompletedProcess[str]:
    playbook = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    assert playbook, "ansible-playbook is missing from the environment (dev extra)"
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
    }
    return subprocess.run(
        [playbook, "-i", str(inventory), str(ANSIBLE / "kiosk.yml"),
         "-e", json.dumps({"kiosk_agent_wheelhouse_build": str(tmp / "wheels"),
                           "madoguchi_agent_source": str(source)})],
        env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskImage]:
    if not is_root():
        pytest.fail("the kiosk image test needs root (debootstrap, chroot, mount)")
    require_tools("debootstrap", "lynis", "systemd-analyze")
    tmp = tmp_path_factory.mktemp("kiosk")
    image = KioskImage(root=tmp / "root")
    try:
        yield from _build(image, tmp)
    finally:
        unmount_all(image.root)
    print("[kiosk image] phases: " + ", ".join(
        f"{name} {seconds:.0f} s" for name, seconds in image.phases.times.items()
    ))  # fmt: skip


def _build(image: KioskImage, tmp: Path) -> Iterator[KioskImage]:
    with image.phases.phase("debootstrap (minbase)"):
        make_root(image.root)
    with mounted_proc(image.root):
        with image.phases.phase("lynis before"):
            image.lynis_before, _ = lynis_audit(image.root)
        inventory = _inventory(tmp / "inventory.json", image.root)
        source = _source_snapshot(tmp / "source")
        for name in ("playbook, first run", "playbook, second run"):
            with image.phases.phase(name):
                run = _playbook(tmp, inventory, source)
            image.runs.append(run)
            assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    # /proc as the kiosk's own fstab mounts it at boot (hidepid)
    with mounted_proc(image.root, fstab_proc_options(image.root)):
        with image.phases.phase("lynis after"):
            image.lynis_after, image.lynis_findings = lynis_audit(image.root)
        print(
            f"[kiosk image] lynis hardening index: before {image.lynis_before}, "
            f"after {image.lynis_after}",
            flush=True,
        )
        yield image


def _recap(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = re.search(r"kiosk-t1\s*:\s*(.*)$", run.stdout, re.MULTILINE)
    assert match, run.stdout[-2000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def test_second_run_changes_nothing(kiosk: KioskImage) -> None:
    first, second = (_recap(run) for run in kiosk.runs)
    assert first["changed"] > 20 and first["failed"] == 0
    assert second["changed"] == 0, kiosk.runs[1].stdout[-6000:]


def test_units_are_enabled_and_unused_ones_masked(kiosk: KioskImage) -> None:
    system = kiosk.root / "etc/systemd/system"
    for wants, unit in [
        ("multi-user.target.wants", "madoguchi-agent.service"),
        ("sysinit.target.wants", "nftables.service"),
        ("multi-user.target.wants", "auditd.service"),
        ("basic.target.wants", "usbguard.service"),
        ("multi-user.target.wants", "ssh.service"),
        ("graphical.target.wants", "madoguchi-kiosk-session.service"),
        ("timers.target.wants", "madoguchi-agent-renew.timer"),
        ("timers.target.wants", "madoguchi-egress-resolve.timer"),
        ("sockets.target.wants", "pcscd.socket"),
        ("local-fs.target.wants", "tmp.mount"),
    ]:
        assert (system / wants / unit).is_symlink(), f"{unit} not enabled ({wants})"
    for masked in ("ctrl-alt-del.target", "debug-shell.service", "getty@tty1.service"):
        assert os.readlink(system / masked) == "/dev/null", masked
    assert os.readlink(system / "default.target").endswith("graphical.target")
    # nothing was started: the policy-rc.d of the test root refused every start
    assert not (kiosk.root / "run/sshd.pid").exists()


def test_users_groups_and_agent_files(kiosk: KioskImage) -> None:
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in (kiosk.root / "etc/passwd").read_text().splitlines()
    }
    groups = {
        line.split(":")[0]: line.split(":")[3].split(",")
        for line in (kiosk.root / "etc/group").read_text().splitlines()
    }
    agent = passwd["madoguchi-agent"]
    assert int(agent[2]) < 1000 and agent[6] == "/usr/sbin/nologin"
    assert passwd["kiosk"][6] == "/usr/sbin/nologin"
    for group in ("video", "audio", "input", "madoguchi-display"):
        assert "madoguchi-agent" in groups[group], group
    assert "kiosk" in groups["madoguchi-display"] and "kiosk" not in groups["input"]
    shadow = {
        line.split(":")[0]: line.split(":")[1]
        for line in (kiosk.root / "etc/shadow").read_text().splitlines()
    }
    assert all(shadow[user].startswith("!") for user in ("kiosk", "madoguchi-agent", "kioskadmin"))
    keys = (kiosk.root / "home/kioskadmin/.ssh/authorized_keys").read_text()
    assert keys == ADMIN_KEY + "\n"

    identity = kiosk.root / "var/lib/madoguchi-agent/identity"
    assert identity.stat().st_mode & 0o777 == 0o700
    assert identity.stat().st_uid == int(agent[2])
    env_file = kiosk.root / "etc/madoguchi/agent.env"
    assert env_file.stat().st_mode & 0o777 == 0o640
    env = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env["MADOGUCHI_EDGE_KIOSK_ID"] == "kiosk-t1"
    assert env["MADOGUCHI_EDGE_SITE_ID"] == "test-site"
    assert env["MADOGUCHI_EDGE_BROKER_HOST"] == "broker.example.test"
    assert env["MADOGUCHI_EDGE_SESSION_DIR"].startswith("/run/madoguchi-agent/")


def test_agent_is_installed_and_reads_its_settings_as_its_user(kiosk: KioskImage) -> None:
    """The venv in the root imports the agent, and the agent's user (not root) can read the
    settings file; the settings validate with edge.settings."""
    script = (
        "set -a; . /etc/madoguchi/agent.env; set +a; exec /opt/madoguchi/venv/bin/python -c "
        "'from edge.settings import EdgeSettings; import edge.agent, cv2, av, smartcard; "
        "s = EdgeSettings(); print(s.kiosk_id, s.broker_port, s.simulate_peripherals)'"
    )
    out = chroot(kiosk.root, "/bin/sh", "-c", script, user="madoguchi-agent")
    assert out.split() == ["kiosk-t1", "8883", "False"]
    with pytest.raises(AssertionError, match="Permission denied"):
        chroot(kiosk.root, "/bin/cat", "/etc/madoguchi/agent.env", user="kiosk")


def test_sshd_allows_keys_only(kiosk: KioskImage) -> None:
    (kiosk.root / "run/sshd").mkdir(exist_ok=True)
    settings = dict(
        line.split(" ", 1)
        for line in chroot(
            kiosk.root, "/usr/sbin/sshd", "-T", "-C", "user=kioskadmin,host=h,addr=192.0.2.1"
        ).splitlines()
    )
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["permitrootlogin"] == "no"
    assert settings["pubkeyauthentication"] == "yes"
    assert settings["x11forwarding"] == "no"
    assert settings["allowtcpforwarding"] == "no"
    assert settings["allowusers"] == "kioskadmin"
    assert settings["maxauthtries"] == "3"


def test_firewall_denies_by_default_and_parses(kiosk: KioskImage) -> None:
    chroot(kiosk.root, "/usr/sbin/nft", "-c", "-f", "/etc/nftables.conf")
    rules = (kiosk.root / "etc/nftables.conf").read_text()
    for hook in ("input", "forward", "output"):
        assert re.search(rf"type filter hook {hook} priority filter; policy drop;", rules), hook
    assert "203.0.113.0/24 . tcp . 443" in rules and "198.51.100.20 . udp . 3478" in rules
    named = (kiosk.root / "etc/madoguchi/egress-hosts").read_text()
    for line in (
        "myna.go.jp tcp 443",
        "broker.example.test tcp 8883",
        "control.example.test tcp 443",
        "turn.example.test tcp 443",
        "ntp.example.test udp 123",
    ):
        assert line in named, line
    broken = kiosk.root / "tmp/broken.nft"
    # a rule naming a set the ruleset does not have: nft -c must refuse it
    broken.write_text(rules.replace("@egress_static_v4 accept", "@egress_missing_v4 accept"))
    with pytest.raises(AssertionError):
        chroot(kiosk.root, "/usr/sbin/nft", "-c", "-f", "/tmp/broken.nft")


def test_agent_unit_sandbox_exposure(kiosk: KioskImage) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={kiosk.root}",
         "--no-pager", "madoguchi-agent.service"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    match = re.search(
        r"Overall exposure level for madoguchi-agent\.service: ([\d.]+)", result.stdout
    )
    assert match, result.stdout[-3000:] + result.stderr[-2000:]
    exposure = float(match.group(1))
    print(f"[kiosk image] madoguchi-agent.service exposure: {exposure}", flush=True)
    assert exposure <= 2.5, result.stdout
    unit = (kiosk.root / "etc/systemd/system/madoguchi-agent.service").read_text()
    assert "User=madoguchi-agent" in unit and "CapabilityBoundingSet=\n" in unit


def test_chromium_policy_allows_only_the_resident_screen_and_government_sites(
    kiosk: KioskImage,
) -> None:
    policy = json.loads((kiosk.root / "etc/chromium/policies/managed/madoguchi.json").read_text())
    assert policy["URLBlocklist"] == ["*"]
    assert policy["URLAllowlist"] == ["http://127.0.0.1:8080", *GOVERNMENT_SITES]
    assert policy["DeveloperToolsAvailability"] == 2
    assert policy["IncognitoModeAvailability"] == 1
    assert policy["DownloadRestrictions"] == 3
    assert policy["PrintingEnabled"] is False
    session = (kiosk.root / "usr/local/lib/madoguchi/kiosk-xsession").read_text()
    assert "--kiosk" in session and "http://127.0.0.1:8080/" in session
    flags = (kiosk.root / "etc/X11/xorg.conf.d/10-madoguchi-serverflags.conf").read_text()
    assert '"DontVTSwitch" "true"' in flags and '"DontZap" "true"' in flags


def test_usb_policy_blocks_storage_and_keeps_peripherals(kiosk: KioskImage) -> None:
    rules = (kiosk.root / "etc/usbguard/rules.conf").read_text()
    chroot(kiosk.root, "/usr/bin/usbguard-rule-parser", "--file", "/etc/usbguard/rules.conf")
    statements = [line for line in rules.splitlines() if line and not line.startswith("#")]
    assert statements[0] == "reject with-interface one-of { 08:*:* }"
    assert "allow with-interface match-all { 01:*:* 03:*:* 0b:*:* 0e:*:* }" in statements
    blacklist = (kiosk.root / "etc/modprobe.d/madoguchi-blacklist.conf").read_text()
    installs = set(re.findall(r"^install (\S+) /bin/false$", blacklist, re.MULTILINE))
    assert "usb-storage" in installs
    assert not installs & {"uvcvideo", "snd_usb_audio", "snd-usb-audio", "usbhid"}


# Not set on purpose: cameras, headsets and readers are plugged in while the kiosk runs.
SYSCTL_EXCEPTIONS = {"kernel.modules_disabled"}


def test_sysctl_covers_lynis_table(kiosk: KioskImage) -> None:
    """The image's sysctl configuration sets every key of lynis's table that this Linux has
    and that can be set, to a value lynis accepts (lynis itself can only read the running
    kernel, which in a chroot is not the kiosk's)."""
    configured = {}
    for line in (kiosk.root / "etc/sysctl.d/90-madoguchi.conf").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            configured[key] = value
    checked = 0
    for key, accepted in lynis_table().items():
        path = Path("/proc/sys") / key.replace(".", "/")
        if key in SYSCTL_EXCEPTIONS or not path.exists() or not path.stat().st_mode & 0o200:
            continue
        checked += 1
        assert configured.get(key) in accepted, f"{key}: {configured.get(key)} not in {accepted}"
    assert checked >= 30


def test_lynis_hardening_index(kiosk: KioskImage) -> None:
    print(f"[kiosk image] lynis: before {kiosk.lynis_before}, after {kiosk.lynis_after}")
    assert kiosk.lynis_after > kiosk.lynis_before
    assert kiosk.lynis_after >= 85, kiosk.lynis_findings


def test_agent_libraries_need_no_writable_code() -> None:
    """MemoryDenyWriteExecute=yes in the unit: the agent's native libraries run under the
    kernel's equivalent (PR_SET_MDWE, Linux ≥ 6.3) — numpy, OpenCV, PyAV encoding VP8,
    aiortc, pyscard, zxing-cpp."""
    major, minor = (int(part) for part in re.findall(r"\d+", os.uname().release)[:2])
    if (major, minor) < (6, 3):
        pytest.fail(f"needs Linux ≥ 6.3 for PR_SET_MDWE, this is {os.uname().release}")
    script = """
import ctypes
assert ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) == 0  # PR_SET_MDWE, refuse exec gain
import mmap
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    pass
else:
    raise SystemExit("MDWE not in force")
import numpy, cv2, av, aiortc, smartcard, zxingcpp, Xlib
import edge.agent
image = numpy.zeros((480, 640, 3), numpy.uint8)
assert cv2.imencode(".jpg", image)[0]
codec = av.CodecContext.create("libvpx", "w")
codec.width, codec.height, codec.pix_fmt = 640, 480, "yuv420p"
frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
codec.encode(frame)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "ok", result.stderr[-3000:]


def test_ansible_lint_production_profile() -> None:
    """The whole ansible/ directory (every role, the control plane's too) passes."""
    lint = shutil.which("ansible-lint", path=str(Path(sys.executable).parent))
    assert lint, "ansible-lint is missing from the environment (dev extra)"
    result = subprocess.run(
        [lint, "--nocolor", "--profile", "production", "ansible/"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


RENDER_FIREWALL = """
- hosts: kiosks
  gather_facts: false
  connection: local
  tasks:
    - ansible.builtin.include_vars: {file: %(role)s/vars/main.yml}
    - ansible.builtin.template:
        src: %(role)s/templates/nftables.conf.j2
        dest: "%(out)s/{{ inventory_hostname }}.nft"
        mode: "0644"
"""


def test_generated_inventory_renders_a_valid_firewall(kiosk: KioskImage, tmp_path: Path) -> None:
    """The inventory contract end to end: `madoguchi provision inventory` on the repository's
    sites/ gives every kiosk a ruleset that nft accepts."""
    inventory = tmp_path / "inventory.yml"
    cli = Path(sys.executable).with_name("madoguchi")
    subprocess.run(
        [cli, "provision", "inventory", "--sites", ROOT / "sites", "--out", inventory],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = kiosk.root / "tmp/generated"
    out.mkdir()
    playbook = tmp_path / "render.yml"
    role = ANSIBLE / "roles/kiosk_base"
    playbook.write_text(RENDER_FIREWALL % {"role": role, "out": out})
    # the role's own settings as extra vars; the site's come from the generated inventory
    # (included role defaults would take precedence over it)
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text())
    own = {key: value for key, value in defaults.items() if key.startswith("kiosk_base_")}
    run = subprocess.run(
        [Path(sys.executable).with_name("ansible-playbook"), "-i", inventory, playbook,
         "-e", json.dumps({**own, "ansible_python_interpreter": sys.executable})],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:]
    rendered = sorted(out.glob("*.nft"))
    assert rendered, "the generated inventory has no kiosk"
    sites = yaml.safe_load(inventory.read_text())["all"]["children"]["kiosks"]["children"]
    for ruleset in rendered:
        chroot(kiosk.root, "/usr/sbin/nft", "-c", "-f", f"/tmp/generated/{ruleset.name}")
    # the site's broker port reached the rules (names go to the resolver, ports stay per site)
    broker_ports = {group["vars"]["madoguchi_broker_port"] for group in sites.values()}
    assert broker_ports
