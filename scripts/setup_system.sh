#!/usr/bin/env bash
# System packages the suite needs on Debian/Ubuntu:
#   - Xvfb, xauth, xdotool and Mesa OpenGL: PsychoPy windows on a machine without a screen
#     (tests, `make demo`, simulated sessions). A lab machine with a real display needs only Mesa/GL.
# Dr.Jit's CPU backend needs a shared libLLVM >= 16: the Python package karellen-llvm-core provides
# one inside the virtualenv, so no system LLVM is needed. If that route fails on your machine,
# install Debian's libllvm19 (`apt-get install libllvm19`); mrd finds it on its own.
# Installs when run as root with apt-get; otherwise prints the exact command and carries on.
set -u
PKGS=(xvfb xauth xdotool libgl1 libgl1-mesa-dri libglu1-mesa libegl1
      libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0  # these five: Qt for --gui
      chromium  # the online task's browser tests (headless; the system browser, nothing downloaded at run time)
      libjack-jackd2-0)  # psychtoolbox (PsychoPy's Keyboard, key times independent of the frame) needs libjack
# Node.js + npm fetch the pinned jsPsych for `mrd export-online` (`npm ci` in `make setup`); keep an existing one.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup_system: not a Debian/Ubuntu system; install Xvfb, xauth, xdotool, Mesa OpenGL, Chromium and Node.js (npm) yourself." >&2
  exit 0
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_system: system packages present (${PKGS[*]})"
  exit 0
fi
cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup_system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup_system: done"
  else
    echo "setup_system: apt-get failed; run as root: $cmd" >&2
    exit 1
  fi
else
  echo "setup_system: missing system packages: ${missing[*]}" >&2
  echo "setup_system: run as root:  sudo sh -c '$cmd'" >&2
  echo "setup_system: without them, tests that need a display are skipped and the demo uses the window-less path." >&2
fi
