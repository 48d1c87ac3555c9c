#!/usr/bin/env bash
# Run every test. The kiosk-image test (a debootstrap root, two playbook runs, two lynis
# audits: minutes spent mostly on downloads, dpkg and lynis's own pauses) runs beside the
# rest of the suite rather than after it, which keeps the wall time down on two cores.
# Its output is printed after the suite's; the exit status fails if either failed.
set -uo pipefail
cd "$(dirname "$0")/.."

pytest=(.venv/bin/pytest -q -p no:cacheprovider)
image_test=tests/ansible/test_kiosk_playbook.py
image_log=$(mktemp -t madoguchi-kiosk-image.XXXXXX)

"${pytest[@]}" -s "$image_test" >"$image_log" 2>&1 &
image_pid=$!
trap 'kill "$image_pid" 2>/dev/null; rm -f "$image_log"' INT TERM

"${pytest[@]}" --ignore="$image_test" "$@"
suite_status=$?

wait "$image_pid"
image_status=$?
echo
echo "---- $image_test (ran beside the suite) ----"
cat "$image_log"
rm -f "$image_log"

if ((suite_status != 0 || image_status != 0)); then
  echo "tests failed: suite exit $suite_status, kiosk image exit $image_status" >&2
  exit 1
fi
