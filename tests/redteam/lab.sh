#!/bin/bash
# usage: lab.sh DIR  -> creates base repo on main and feature branch with 14-day change (uncommitted)
set -e
D=$1; rm -rf $D; mkdir -p $D; cd $D
git init -q -b main
git config user.email a@b; git config user.name a
printf '.promptgate/cache\n' > .gitignore
mkdir -p prompts evals
cat > promptgate.toml <<T
[gate]
max_cost_usd = 5.0

[provider.main]
kind = "openai"
base_url = "http://127.0.0.1:18431/v1"
model = "gpt-4o-mini"
api_key_env = "PG_TEST_KEY"

[price."gpt-4o-mini"]
input_per_mtok = 1.0
output_per_mtok = 2.0

[[surface]]
name = "support"
prompts = ["prompts/*.md"]
entry = "prompts/answer.md"
cases = "evals/support.jsonl"
provider = "main"
tier = "self"
min_pass_rate = 0.9
max_drop = 0.05

[tier.exec]
approvers = ["acme/execs"]
min_approvals = 1
T
printf 'Policy: refunds within 30 days.\nQ: {{ question }}\n' > prompts/answer.md
for i in 0 1 2 3 4 5; do echo "{\"id\":\"c$i\",\"vars\":{\"question\":\"refund? $i\"},\"assert\":[{\"type\":\"contains\",\"value\":\"30 days\"}]}"; done > evals/support.jsonl
git add -A; git commit -qm base
git checkout -qb feature
sed -i 's/30 days/14 days/' prompts/answer.md
