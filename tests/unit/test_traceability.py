"""docs/traceability.md: every playbook command with its checks or the reason it is not one, built from the checks."""

import subprocess
import sys

from scenescout_ir.playbook import traceability
from scenescout_ir.playbook.commands import commands
from scenescout_ir.playbook.traceability import CheckInfo, problems, rows

SAMPLE = '''# Playbook
## Initial Response
```bash
# Database connectivity
psql $DATABASE_URL -c "SELECT 1;" || echo "DATABASE DOWN"

# Check event ingestion status
psql $DATABASE_URL -c "
SELECT source
FROM events;
"
```
## Performance
```bash
for i in {1..10}; do
  curl -o /dev/null https://scenescout.app/
done | awk '{sum+=$1} END {print "Average:", sum/NR}'
cat >> incidents/incident-x.log << EOF
$(date): INCIDENT RESOLVED
EOF
ping -c 3 8.8.8.8
```
'''


def check(name, *claims):
    return CheckInfo(nodeid=f"checks/test_x.py::{name}", name=name, markers=("emergency",), condition=None,
                     claims=claims)


def test_commands_are_whole_commands_with_their_purpose_and_section():
    found = commands(SAMPLE)
    assert [c.first_line for c in found] == [
        'psql $DATABASE_URL -c "SELECT 1;" || echo "DATABASE DOWN"', 'psql $DATABASE_URL -c "',
        "for i in {1..10}; do", "cat >> incidents/incident-x.log << EOF", "ping -c 3 8.8.8.8"]
    assert [c.purpose for c in found[:2]] == ["Database connectivity", "Check event ingestion status"]
    assert found[1].text.endswith('FROM events;\n"') and found[1].section == "Initial Response"
    assert found[2].text.endswith("sum/NR}'") and found[3].text.endswith("EOF")
    assert found[1].matches("SELECT source FROM events") and not found[0].matches("SELECT source")


def test_a_command_nobody_accounts_for_and_a_claim_of_a_missing_command_are_problems():
    playbook = commands(SAMPLE)
    checks = [check("test_db", 'psql $DATABASE_URL -c "SELECT 1;"'), check("test_fresh", "FROM events"),
              check("test_ghost", "nslookup scenescout.app")]
    found = problems(checks, playbook)
    assert "checks/test_x.py::test_ghost claims playbook command 'nslookup scenescout.app', which the playbook " \
           "does not have" in found
    unaccounted = [p for p in found if "has no check and no reason" in p]
    assert len(unaccounted) == 1 and "'for i in {1..10}; do'" in unaccounted[0]  # the heredoc and ping: reasons
    table = rows(checks, playbook)
    assert [c.name for c in table[1].checks] == ["test_fresh"] and table[4].reason.startswith("ICMP needs raw")


def test_the_real_playbook_every_command_has_a_row_and_the_file_is_up_to_date():
    checks = traceability.collect()
    assert problems(checks) == []
    table = rows(checks)
    assert len(table) == len(commands()) and all(r.checks or r.reason for r in table)
    assert traceability.TRACEABILITY_FILE.read_text() == traceability.render_traceability(table), \
        "docs/traceability.md disagrees with the checks: run `make docs`"


def test_the_catalogue_lists_every_check_with_its_marker_condition_and_severity():
    out = subprocess.run([sys.executable, "-m", "scenescout_ir", "checks", "--markdown"], capture_output=True,
                         text=True, timeout=120, cwd=traceability.ROOT)
    assert out.returncode == 0, out.stderr
    assert "| `checks/test_site.py::test_dns_resolution` | emergency, comprehensive | `nslookup scenescout.app` " \
           "| Complete system outage | SEV1 |" in out.stdout
