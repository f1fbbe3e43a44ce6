#!/bin/bash
# run check in cwd, committing first
git add -A; git commit -qm "${1:-attack}" --allow-empty
rm -rf /tmp/rt/out
PG_TEST_KEY=sk-test-7d1f0c9a2b GITHUB_TOKEN=ghs_faketoken123456 timeout 120 /work/wt/redteam/target/debug/promptgate check --base main --format json --out /tmp/rt/out > /tmp/rt/stdout 2>/tmp/rt/stderr
rc=$?
echo "exit=$rc"
python3 -c "
import json;r=json.load(open('/tmp/rt/stdout'));print('verdict',r['verdict'],'tier',r.get('tier'));print('reasons',json.dumps(r.get('reasons'),indent=0)[:1500]);print('notes',json.dumps(r.get('notes'))[:800])
for s in r.get('surfaces',[]): print(s['name'], 'base',s.get('base',{}) and s['base'].get('pass_rate') if s.get('base') else None,'head',s['head'].get('pass_rate') if s.get('head') else None, [ (x['rule'],x['ok']) for x in s.get('rules',[])])
" 2>&1 | head -40
grep -l "sk-test-7d1f0c9a2b\|ghs_faketoken" /tmp/rt/out/* /tmp/rt/stdout /tmp/rt/stderr 2>/dev/null && echo LEAK
