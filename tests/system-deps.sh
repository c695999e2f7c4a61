#!/usr/bin/env bash
# Debian packages the tests need and pip cannot install: Chromium for the browser test
# (never downloaded by Playwright) and a colour emoji font for the page it draws, Google's Firestore and Pub/Sub emulators and the Java they
# run on. Installs only what is missing; without root or sudo it says what to install and the
# tests that need it skip (or fail, under CI=true).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
if command -v gcloud >/dev/null; then
  sdk_root=$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)
  [ -d "$sdk_root/platform/cloud-firestore-emulator" ] || missing+=(google-cloud-cli-firestore-emulator)
  [ -d "$sdk_root/platform/pubsub-emulator" ] || missing+=(google-cloud-cli-pubsub-emulator)
else
  missing+=(google-cloud-cli google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "tests/system-deps.sh: please install: apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "installing: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
