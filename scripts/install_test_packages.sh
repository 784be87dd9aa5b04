#!/usr/bin/env bash
# Debian packages some tests use, installed where this machine allows (root and apt-get):
#   darknet: ImageNet test photos and class list, to check the converted ImageNet encoder.
#   chromium, chromium-driver: a headless browser for the demo page and /docs tests
#     (tests/app/test_demo_page.py, driven by Selenium through /usr/bin/chromedriver).
# Without them those tests are skipped with a message saying so; nothing else depends on them.
set -u
missing=()
[ -f /usr/share/darknet/data/eagle.jpg ] || missing+=(darknet)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "not root or no apt-get: ${missing[*]} not installed; the tests that need it are skipped"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; }
if ! apt_install "${missing[@]}"; then
    apt-get update >/dev/null 2>&1
    if ! apt_install "${missing[@]}"; then
        # One package that cannot be had must not keep the others out.
        for package in "${missing[@]}"; do
            apt_install "$package" || echo "could not install $package; the tests that need it are skipped"
        done
    fi
fi
exit 0
