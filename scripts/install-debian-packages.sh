#!/usr/bin/env bash
# Install the Debian packages the demo and the tests need, only those that are missing.
# Idempotent: a machine that has them all is left untouched (no apt-get update either).
set -euo pipefail

packages=(
  # servers the tests and the demo start for real
  mosquitto mosquitto-clients postgresql postgresql-client victoria-metrics
  # PC/SC smart-card stack; pyscard builds against it
  pcscd vsmartcard-vpcd swig libpcsclite-dev
  # the browser end-to-end tests (Playwright drives Debian's Chromium) and Japanese glyphs
  chromium fonts-ipafont-gothic
  # the kiosk screen: a real X server (Xvfb) that Chromium draws on and the agent captures
  xvfb
  # building and running the Python environment
  python3-venv python3-dev gcc make
  # TURN relay (coturn) for the call and the pop-up connection test
  coturn
  # the kiosk image test: a Debian root made with debootstrap, audited by lynis
  debootstrap lynis
  # the control-plane reverse proxy: its rendered config is checked with `nginx -t`
  nginx-light
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "setup: Debian packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The packages' own service units may start system-wide daemons; the tests and the demo
# start their own instances on free ports, so the system ones are not needed.
