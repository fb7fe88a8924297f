"""States are named in distributor/states.py and nowhere else spelled out."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

from distributor import states

ROOT = Path(__file__).resolve().parents[1] / "distributor"
STATE_WORDS = {member.value for enum in (states.SendState, states.BatchState, states.PostState,
                                         states.DeliveryState, states.SubscriptionStatus,
                                         states.Outcome) for member in enum}
# Literals that spell a state word but are not a state: (file, word) and why.
NOT_STATES = {
    ("monitor/queues.py", "active"): "Celery's inspect API names running tasks 'active'",
    ("monitor/snapshot.py", "active"): "Celery's inspect API names running tasks 'active'",
    ("cli/audience.py", "active"): "a column title: how many subscribers are active",
    ("cli/monitor.py", "retry"): "the name of the `failures retry` command",
    ("inbound/publish.py", "accepted"): "the HTTP answer's word for 202 Accepted",
    ("audience/tokens.py", "expired"): "why a link is refused, not a row's state",
    ("channels/adapters/whapi.py", "sent"): "Whapi's SentMessage field: did the gateway send it",
    ("email/reports.py", "failed"): "RFC 3464's Action value of a bounce, read from a DSN",
    ("email/providers.py", "failed"): "Mailgun's event name for a failed delivery",
    ("email/providers.py", "complained"): "Mailgun's event name for a spam complaint",
    **{("monitor/deliveries.py", word): "COUNTS: the names of a send report's count fields"
       for word in ("planned", "sent", "failed", "deferred", "skipped")},
}
REPORT_FIELDS = {"planned", "sent", "failed", "deferred", "skipped", "done"}


def stray_literals(path: Path) -> list[tuple[int, str]]:
    """String literals equal to a state word, except the field names of reports: dict keys,
    subscripts, and column titles of the tables the CLI prints."""
    found = []
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
              if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
    for index, token in enumerate(tokens):
        if token.type != tokenize.STRING or token.string[:1] not in "\"'":
            continue
        value = token.string[1:-1]
        before = tokens[index - 1].string if index else ""
        after = tokens[index + 1].string if index + 1 < len(tokens) else ""
        field_name = after == ":" or (before == "[" and after == "]")
        if value in STATE_WORDS and not field_name and not (
                path.parent.name == "cli" and value in REPORT_FIELDS and _in_table(tokens, index)):
            found.append((token.start[0], value))
    return found


def _in_table(tokens, index) -> bool:
    """Inside `Table(...)` or a `for k in (...)` over report fields on the same line."""
    line = tokens[index].line
    return "Table(" in line or "for k in (" in line


def test_no_module_spells_out_a_state():
    stray = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "states.py" or relative.startswith("store/migrations/"):
            continue
        stray += [f"{relative}:{line}: {value!r}" for line, value in stray_literals(path)
                  if (relative, value) not in NOT_STATES]
    assert not stray, "use the names in distributor/states.py:\n" + "\n".join(stray)


def test_every_state_has_its_moves_listed():
    for enum, moves in states.TRANSITIONS.items():
        assert set(moves) == set(enum), enum.__name__
        assert all(target in enum for targets in moves.values() for target in targets)
    assert states.may_move(states.SendState.FAILED, states.SendState.RUNNING)
    assert not states.may_move(states.SendState.DONE, states.SendState.RUNNING)
