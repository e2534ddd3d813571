#!/usr/bin/env bash
# Install the Debian packages opsmeeting needs, only those missing. Usage: system-deps.sh demo|test
set -euo pipefail
# DejaVu first in the report's font stack; Noto for the CJK and emoji names it lacks (the PDF embeds subsets);
# fontconfig for fc-match (the page's CJK subset) and the font cache
want=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core fonts-noto-cjk
      fonts-noto-color-emoji)
if [ "${1:-demo}" = "test" ]; then
  # a real Prometheus (+ promtool), headless Chromium, poppler (pdftoppm, pdffonts), libfaketime (make test-future)
  want+=(prometheus chromium poppler-utils faketime)
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package may start a service listening on 0.0.0.0:9090; tests never use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $sudo systemctl stop prometheus || true
fi
