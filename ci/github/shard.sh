#!/usr/bin/env bash
# One shard inside debian:bookworm (as root): Node.js 20, the README's set-up, then shard
# i of n of every suite, its results, JUnit, summary and vitest blob report in out/.
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
mkdir -p out
node bin/migtest.mjs run --all --shard "${shard}/${total}" --results out/results.json --blob "out/blob-${shard}.json"
