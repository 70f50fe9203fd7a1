#!/usr/bin/env bash
# Run a command with an X display for PsychoPy: under Xvfb when xvfb-run is installed (looked up now,
# when the command runs, so the first `make test` / `make demo` on a fresh machine, whose set-up step
# has just installed Xvfb, gets it too), else on the current DISPLAY, else without a display (said so:
# display tests then skip, or fail when CI=true, and `mrd demo` takes its window-less path).
set -u
if command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1280x1024x24" "$@"
fi
if [ -n "${DISPLAY:-}" ]; then
  echo "with_display: xvfb-run not found; using DISPLAY=$DISPLAY" >&2
  exec "$@"
fi
echo "with_display: no xvfb-run and no DISPLAY (bash scripts/setup_system.sh installs Xvfb); running without a display" >&2
exec "$@"
