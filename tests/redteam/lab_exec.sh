#!/bin/bash
set -e
/tmp/rt/lab.sh $1 >/dev/null
cd $1
git checkout -q -- prompts/answer.md
git checkout -q main
mkdir -p graders && cat > graders/refund.py <<'P'
import sys
out = sys.stdin.read()
sys.exit(0 if "30 days" in out else 1)
P
for i in 0 1 2 3 4 5; do echo "{\"id\":\"c$i\",\"vars\":{\"question\":\"refund? $i\"},\"assert\":[{\"type\":\"exec\",\"value\":[\"python3\",\"graders/refund.py\"]}]}"; done > evals/support.jsonl
git add -A && git commit -qm "exec grader" && git checkout -q feature && git reset -q --hard main
sed -i 's/30 days/14 days/' prompts/answer.md
