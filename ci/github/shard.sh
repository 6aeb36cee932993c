#!/usr/bin/env bash
# One shard inside debian:bookworm (as root): Node.js 20, the README's set-up, then shard
# i of n of every suite, its results, JUnit, summary and vitest blob report in out/; then
# share i of n of the suites on the newest QEMU, its reports in out/newest/ (apart: a run
# writes junit.xml, summary.md and report.html beside its results.json). Both passes run;
# the script fails if either did.
set -euo pipefail
shard=$1 total=$2
cd "$(dirname "$0")/../.."
NODE_VERSION=20.18.0
if ! command -v node >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq curl ca-certificates xz-utils >/dev/null
  arch=$(dpkg --print-architecture | sed 's/amd64/x64/')
  curl -fsSL "https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-${arch}.tar.xz" | tar -xJ -C /usr/local --strip-components=1
fi
# README command 1, as the README gives it (its main job is part of the shards' run).
bash ci/setup.sh
mkdir -p out/newest
main=0 newest=0
node bin/migtest.mjs run --all --shard "${shard}/${total}" --results out/results.json --blob "out/blob-${shard}.json" || main=$?
# The pass on the newest QEMU (ci/setup.sh fetched it): share i of n of the rotation, so the
# shards together run every rotation suite on it each night.
node bin/migtest.mjs run --rotation "${shard}/${total}" --qemu newest --results out/newest/results.json || newest=$?
exit $((main ? main : newest))
