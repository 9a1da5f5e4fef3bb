#!/usr/bin/env bash
# Prints the home directory of a JDK 21 or newer for the build, or fails with one sentence
# naming the JDKs it saw. Order: $JAVA_HOME, Temurin 25 under /usr/lib/jvm, any other JDK
# there (newest first), the java on PATH, then macOS's java_home.
set -euo pipefail

readonly NEEDED=21
seen=()
declare -A tried=()

# major <home>: the feature version its bin/java reports (17 for "17.0.15", 1 for "1.8.0").
major() {
  "$1/bin/java" -version 2>&1 | sed -n '1s/^[^"]*"\([0-9]*\).*/\1/p'
}

# try <home>: print it and stop if it is a full JDK (javac too: Maven compiles) of $NEEDED+.
try() {
  local home=${1%/}
  [[ -n "$home" && -x "$home/bin/java" ]] || return 0
  local real
  real=$(readlink -f "$home")
  [[ -z "${tried[$real]:-}" ]] || return 0 # symlinked aliases of one JDK are checked once
  tried[$real]=1
  local version
  version=$(major "$home")
  seen+=("$home (${version:-unknown})")
  if [[ -n "$version" && "$version" -ge "$NEEDED" && -x "$home/bin/javac" ]]; then
    echo "$home"
    exit 0
  fi
}

try "${JAVA_HOME:-}"
for home in /usr/lib/jvm/temurin-25*; do try "$home"; done
if [[ -d /usr/lib/jvm ]]; then
  while IFS= read -r home; do try "$home"; done < <(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV)
fi
if command -v java >/dev/null 2>&1; then
  try "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
fi
if [[ -x /usr/libexec/java_home ]]; then
  try "$(/usr/libexec/java_home -v "$NEEDED+" 2>/dev/null || true)"
fi

found=$(IFS=,; echo "${seen[*]:-none}" | sed 's/,/, /g')
echo "Spillway needs JDK $NEEDED or newer; set JAVA_HOME to one (found: $found)" >&2
exit 1
