#!/usr/bin/env bash
# Fetch the JVM engines of the local stack (Kafka broker, DynamoDB Local, Flink Kafka SQL connector)
# from Maven Central into infra/jvm/lib/<component>/, using the manifest infra/jvm/pom.xml.
#
# Called by `make setup` (target infra/jvm/lib/.fetched); make's stamp makes a second run do no
# network work. Needs only Java 17+ and Maven. Each component is fetched into a temporary directory
# and moved into place only when complete, so an interrupted run never leaves a half-filled lib dir.
#
# Environment: MAVEN_REPO_LOCAL=/path  use another local Maven repository (e.g. to time a fresh fetch);
#              JVM_LIB_DIR=/path       fetch into another folder than infra/jvm/lib.
set -euo pipefail
cd "$(dirname "$0")/.."

JVM_DIR=infra/jvm
LIB_DIR=${JVM_LIB_DIR:-$JVM_DIR/lib}
COMPONENTS=(kafka flink dynamodb)

command -v java >/dev/null 2>&1 || { echo "error: java not found; install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
command -v javac >/dev/null 2>&1 || { echo "error: javac not found; install a JDK 17+ (not only a JRE)" >&2; exit 1; }
command -v mvn >/dev/null 2>&1 || { echo "error: mvn not found; install Maven (e.g. apt-get install maven)" >&2; exit 1; }

MVN_ARGS=(-q -B -Dstyle.color=never -f "$JVM_DIR/pom.xml")
if [[ -n "${MAVEN_REPO_LOCAL:-}" ]]; then
  MVN_ARGS+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
fi

# Move a freshly fetched folder into place, unless the current one is identical: engines that are
# running from these jars are then never disturbed by a re-run.
replace_dir() {
  local fresh=$1 target=$2
  if [[ -d "$target" ]] && diff -rq "$fresh" "$target" >/dev/null 2>&1; then
    rm -rf "$fresh"
  else
    rm -rf "$target"
    mv "$fresh" "$target"
  fi
}

mkdir -p "$LIB_DIR"
for component in "${COMPONENTS[@]}"; do
  tmp="$LIB_DIR/.$component.tmp"
  rm -rf "$tmp"
  echo "fetching $component ..."
  # stripVersion: sqlite4java looks for its native library by a fixed name (libsqlite4java-linux-amd64.so).
  mvn "${MVN_ARGS[@]}" -P "$component" dependency:copy-dependencies \
    -DoutputDirectory="$(cd "$(dirname "$tmp")" && pwd)/$(basename "$tmp")" -DincludeScope=runtime -Dmdep.stripVersion=true 2>&1 \
    | sed 's/\x1b\[[0-9;]*m//g'  # Maven 3.8 prints colour resets even with -B -q
  replace_dir "$tmp" "$LIB_DIR/$component"
  echo "  $component: $(find "$LIB_DIR/$component" -type f | wc -l) files, $(du -sh "$LIB_DIR/$component" | cut -f1)"
done

# A tiny launcher that binds DynamoDB Local to one address (it has no such option of its own).
echo "compiling launchers ..."
rm -rf "$LIB_DIR/.launchers.tmp"
mkdir -p "$LIB_DIR/.launchers.tmp"
javac -nowarn -d "$LIB_DIR/.launchers.tmp" -cp "$LIB_DIR/dynamodb/*" "$JVM_DIR"/launchers/*.java
replace_dir "$LIB_DIR/.launchers.tmp" "$LIB_DIR/launchers"
