#!/usr/bin/env bash
# Debian packages some tests use, installed where this machine allows (root and apt-get):
#   darknet: ImageNet test photos and class list, to check the converted ImageNet encoder.
# Without them those tests are skipped with a message saying so; nothing else depends on them.
set -u
missing=()
[ -f /usr/share/darknet/data/eagle.jpg ] || missing+=(darknet)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "not root or no apt-get: ${missing[*]} not installed; the tests that need it are skipped"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update >/dev/null 2>&1
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
        || echo "could not install ${missing[*]}; the tests that need it are skipped"
fi
exit 0
