#!/usr/bin/env bash
# promtool on the monitoring files of deploy/prometheus: the config (with the rule files it
# loads), every rule file, and the rules' unit tests (*_test.yml). ctest's promtool_check runs it;
# it exits 77 (ctest SKIP_RETURN_CODE) when promtool is not installed (scripts/bootstrap
# installs Debian's prometheus package, which has it).
#   tests/deploy/check_monitoring.sh [SOURCE_DIR]
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [ -z "$promtool" ] || [ ! -x "$promtool" ]; then
  echo "check_monitoring: promtool not found (Debian package prometheus; scripts/bootstrap); skipped"
  exit 77
fi
rules_dir="$src/deploy/prometheus/rules"
shopt -s nullglob
rule_files=() tests=()
for f in "$rules_dir"/*.yml; do
  case $f in
    *_test.yml) tests+=("$f") ;;
    *) rule_files+=("$f") ;;
  esac
done
if [ ${#rule_files[@]} -eq 0 ] || [ ${#tests[@]} -eq 0 ]; then
  echo "check_monitoring: no rule files or no rule tests in $rules_dir" >&2
  exit 1
fi

"$promtool" check config "$src/deploy/prometheus/prometheus.yml"
"$promtool" check rules "${rule_files[@]}"
# promtool resolves a test file's rule_files relative to the current directory.
(cd "$rules_dir" && "$promtool" test rules "${tests[@]##*/}")
echo "check_monitoring: config, ${#rule_files[@]} rule file(s) and ${#tests[@]} rule test file(s) pass"
