#!/usr/bin/env bash
# Set-up for a fresh machine, beyond `npm ci` (run by the caller): checks Java >= 17 for DynamoDB Local
# and installs moto server into the project venv (.venv). Idempotent: does nothing already done.
set -euo pipefail

MOTO_SPEC='moto[server]==5.2.5'
MOTO_VERSION='5.2.5'
MIN_JAVA=17

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"

fail() {
  echo "setup: $*" >&2
  exit 1
}

# Java, for DynamoDB Local.
command -v java >/dev/null 2>&1 || fail "java ${MIN_JAVA} or newer is needed for DynamoDB Local (found: none): install openjdk-17-jre-headless"
java_version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
java_major="${java_version%%.*}"
[ "$java_major" = "1" ] && java_major="$(echo "$java_version" | cut -d. -f2)"
case "$java_major" in
  '' | *[!0-9]*) fail "java ${MIN_JAVA} or newer is needed for DynamoDB Local (found: unreadable version '${java_version}'): install openjdk-17-jre-headless" ;;
esac
[ "$java_major" -ge "$MIN_JAVA" ] ||
  fail "java ${MIN_JAVA} or newer is needed for DynamoDB Local (found: java ${java_version}): install openjdk-17-jre-headless"

# moto server, in the project venv.
if [ ! -x "$venv/bin/python" ]; then
  command -v python3 >/dev/null 2>&1 || fail "python3 is needed to install moto server (found: none): install python3 and python3-venv"
  python3 -m venv "$venv" || fail "could not create $venv with python3 -m venv: install python3-venv"
fi
installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
if [ "$installed" = "$MOTO_VERSION" ] && [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import flask, flask_cors' 2>/dev/null; then
  echo "setup: java ${java_version} and moto ${installed} already in place" >&2
  exit 0
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$MOTO_SPEC" >&2 ||
  fail "pip could not install ${MOTO_SPEC} into $venv (see the pip output above)"
"$venv/bin/moto_server" --help >/dev/null 2>&1 || fail "moto_server does not run after installing ${MOTO_SPEC} into $venv"
echo "setup: java ${java_version}; moto ${MOTO_VERSION} installed in .venv" >&2
