"""Every sentence staff can be shown says what happened in staff words: no SIDs, no setting
names, no raw status tokens (issue 22, item 3). Operators find those in the details.

The test walks the real sources (clinics/, telephony/, dentsignal/) with `ast` and reads
each sentence where it is written, so a sentence added anywhere later is walked too:

- admin messages: `message_user(request, <sentence>)`;
- refusals: `raise <Error>(<sentence>)` for the project's own exceptions, CommandError and
  ValidationError (admin, API and commands show them as they are);
- Twilio failures: the sentence tables in telephony/twilio/errors.py, and every `doing`
  phrase (the step a TwilioError sentence names), `error=`/`message=`/`fix=` a workflow
  records (the audit's findings too);
- next steps and outcomes: `NextStep(...)`, `json_error(status, <sentence>)`, what the
  simulated test traffic reports (`steps.append`), and what functions whose names say they
  make a sentence (`*_sentence`, `*_next_action`, `*_reason`, `*_outcome`, `*_words`) return;
- module constants named `*SENTENCE*`, `*MESSAGE*` or `QUEUED_*`.

In a sentence's fixed text it looks for a SID (`AC…`, `PN` + 32 hex digits), an
UPPER_SNAKE setting name and Twilio's raw status tokens (`pending-review`, `PENDING`,
`trust_product`: the A2P statuses and step keys the models define); in what is filled in,
for a value that is a SID (`…sid`) or a raw status (`…status`).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clinics.models_a2p import APPROVED, REJECTED, A2PStep
from telephony.a2p.rules import IN_REVIEW

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("clinics", "telephony", "dentsignal")
# Read by operators and developers, never by clinic staff: configuration errors at start-up
# and the doctor's diagnosis (they must name the setting and the SID to be of use), the
# development demo's setup, and the SMS fallback's spool errors (logged for operators).
NOT_STAFF_FACING = {
    Path("dentsignal/settings.py"),
    Path("telephony/checks.py"),
    Path("telephony/numbers/doctor.py"),
    Path("telephony/management/commands/telephony_doctor.py"),
    Path("clinics/management/commands/demo_setup.py"),
    Path("telephony/fallback_store.py"),
}

SID_TEXT = re.compile(r"\b(?:AC|PN|BN|BU|CA|SM|MG|MZ|RN|IT|QE|KS|SK|VX)(?:[0-9a-fA-F]{32}\b|…|\.\.\.)")
SETTING_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
# Twilio's raw statuses and our step keys; plain English words among them ("created") are fine.
RAW_TOKENS = sorted(
    {
        token
        for token in {*APPROVED.values(), *REJECTED, *IN_REVIEW, *A2PStep.values}
        if "-" in token or "_" in token or token.isupper()
    }
)
RAW_TOKEN = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, RAW_TOKENS)) + r")(?![\w-])")
SID_VALUE = re.compile(r"(?:^|_)sids?$")
STATUS_VALUE = re.compile(r"(?:^|_)status$")

SENTENCE_FUNCTIONS = re.compile(r"(?:sentence|next_action|_reason|_outcome|_words)$")
SENTENCE_CONSTANTS = re.compile(r"SENTENCE|MESSAGE|^QUEUED_")
SENTENCE_KEYWORDS = {"doing", "error", "message", "fix"}
EXTRA_EXCEPTIONS = {"CommandError", "ValidationError", "Http404"}


@dataclass(frozen=True)
class Sentence:
    where: str
    texts: tuple[str, ...]
    values: tuple[str, ...]


def _source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or relative in NOT_STAFF_FACING:
                continue
            files.append(path)
    return files


def _project_exceptions(trees: list[ast.Module]) -> set[str]:
    """The names of the project's exception classes (subclasses of *Error/*Exception, transitively)."""
    bases: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {_last_name(base) for base in node.bases}
    found = set(EXTRA_EXCEPTIONS)
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name in found:
                continue
            if any(p in found or p in ("Exception", "ValueError") for p in parents):
                found.add(name)
                changed = True
    return found


def _last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _last_name(node.func)
    return ""


def _parts(node: ast.AST | None) -> tuple[list[str], list[str]]:
    """(the fixed texts, the names of the values filled in) of a sentence expression."""
    texts: list[str] = []
    values: list[str] = []
    if node is None:
        return texts, values
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        texts.append(node.value)
    elif isinstance(node, ast.JoinedStr):
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                texts.append(value.value)
            elif isinstance(value, ast.FormattedValue):
                values.extend(_value_names(value.value))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        for side in (node.left, node.right):
            t, v = _parts(side)
            texts += t
            values += v
    elif isinstance(node, ast.IfExp):
        for side in (node.body, node.orelse):
            t, v = _parts(side)
            texts += t
            values += v
    elif isinstance(node, ast.BoolOp):
        for side in node.values:
            t, v = _parts(side)
            texts += t
            values += v
    elif isinstance(node, (ast.Dict, ast.Tuple, ast.List)):
        items = node.values if isinstance(node, ast.Dict) else node.elts
        for item in items:
            t, v = _parts(item)
            texts += t
            values += v
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        t, v = _parts(node.func.value)
        texts += t
        values += v
        values += [kw.arg for kw in node.keywords if kw.arg]
    elif isinstance(node, ast.Call) and _last_name(node.func) in ("with_code", "_", "gettext"):
        return _parts(node.args[0]) if node.args else (texts, values)
    return texts, values


def _value_names(node: ast.AST) -> list[str]:
    """The names a filled-in value reads (`clinic.twilio_number_sid` -> twilio_number_sid)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.BoolOp):
        return [name for value in node.values for name in _value_names(value)]
    if isinstance(node, ast.IfExp):
        return _value_names(node.body) + _value_names(node.orelse)
    if isinstance(node, ast.Subscript):
        return _value_names(node.slice) if isinstance(node.slice, ast.Constant) else _value_names(node.value)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return []


@functools.cache
def _sentences() -> tuple[Sentence, ...]:
    return tuple(_walk())


def _walk() -> Iterator[Sentence]:
    files = _source_files()
    trees = [ast.parse(path.read_text(), filename=str(path)) for path in files]
    exceptions = _project_exceptions(trees)
    for path, tree in zip(files, trees, strict=True):
        relative = path.relative_to(ROOT)

        def found(node: ast.AST | None, line: int, relative: Path = relative) -> Sentence | None:
            texts, values = _parts(node)
            if not texts and not values:
                return None
            return Sentence(f"{relative}:{line}", tuple(texts), tuple(values))

        for node in ast.walk(tree):
            candidates: list[ast.AST | None] = []
            if isinstance(node, ast.Call):
                name = _last_name(node.func)
                if name == "message_user":
                    candidates.append(node.args[1] if len(node.args) > 1 else None)
                elif name in ("NextStep", "calling", "while_doing"):
                    candidates.append(node.args[0] if node.args else None)
                elif name == "json_error":
                    candidates.append(node.args[1] if len(node.args) > 1 else None)
                elif name == "append" and _last_name(node.func.value) == "steps":  # type: ignore[attr-defined]
                    candidates.append(node.args[0] if node.args else None)
                candidates += [kw.value for kw in node.keywords if kw.arg in SENTENCE_KEYWORDS]
            elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                if _last_name(node.exc.func) in exceptions:
                    candidates += node.exc.args[:1]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and SENTENCE_FUNCTIONS.search(node.name):
                # What it returns, and the parts it gathers to return (`reasons.append(...)`).
                candidates += [sub.value for sub in ast.walk(node) if isinstance(sub, ast.Return)]
                candidates += [
                    sub.args[0]
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.Call) and _last_name(sub.func) == "append" and sub.args
                ]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and SENTENCE_CONSTANTS.search(t.id) for t in targets):
                    candidates.append(node.value)
            for candidate in candidates:
                sentence = found(candidate, getattr(candidate, "lineno", getattr(node, "lineno", 0)))
                if sentence is not None:
                    yield sentence


def _faults(sentence: Sentence) -> list[str]:
    faults = []
    for text in sentence.texts:
        faults += [f"SID {m.group()!r}" for m in SID_TEXT.finditer(text)]
        faults += [f"setting name {m.group()!r}" for m in SETTING_NAME.finditer(text)]
        faults += [f"raw status {m.group()!r}" for m in RAW_TOKEN.finditer(text)]
    for value in sentence.values:
        if SID_VALUE.search(value):
            faults.append(f"a SID ({{{value}}})")
        elif STATUS_VALUE.search(value):
            faults.append(f"a raw status ({{{value}}})")
    return faults


def test_the_walk_finds_the_sentences_it_is_about() -> None:
    """The walk reaches each kind of sentence (else a rename would make the test below pass vacuously)."""
    wheres = {s.where.split(":")[0] for s in _sentences()}
    for expected in (
        "telephony/twilio/errors.py",  # Twilio's failures
        "clinics/admin/outcomes.py",  # admin messages
        "clinics/selectors.py",  # next steps
        "telephony/api.py",  # API errors
        "telephony/numbers/simulated_traffic.py",  # the simulated test call
        "telephony/a2p/registration.py",  # A2P next action
        "clinics/services/number_state.py",  # refusals
    ):
        assert expected in wheres, expected
    assert len(list(_sentences())) > 200


def test_walk_spots_each_kind_of_leak() -> None:
    """The checks themselves: a SID, a setting name and a raw status are each caught."""
    bad = [
        Sentence("x", ("Subaccount AC" + "0" * 32 + " is closed.",), ()),
        Sentence("x", ("Set TWILIO_SANDBOX" + "=true.",), ()),
        Sentence("x", ("The brand is PENDING.",), ()),
        Sentence("x", ("Step trust_product failed.",), ()),
        Sentence("x", ("Number ",), ("twilio_number_sid",)),
        Sentence("x", ("Status: ",), ("brand_status",)),
    ]
    assert all(_faults(s) for s in bad)
    assert not _faults(Sentence("x", ("Twilio is reviewing the brand; reply STOP to opt out.",), ("name",)))


@pytest.mark.parametrize("where", sorted({s.where.split(":")[0] for s in _sentences()}))
def test_no_staff_sentence_names_a_sid_a_setting_or_a_raw_status(where: str) -> None:
    leaks = [f"{s.where}: {', '.join(_faults(s))}" for s in _sentences() if s.where.startswith(where + ":") and _faults(s)]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("status", ["", *sorted({*APPROVED.values(), *REJECTED, *IN_REVIEW, "creating"})])
def test_a2p_statuses_read_as_words(status: str) -> None:
    """The A2P pipeline's status texts: each status Twilio reports, in words without its raw token."""
    from telephony.a2p.rules import status_words

    words = status_words(status)
    assert words and not RAW_TOKEN.search(words) and not words.isupper() and "-" not in words and "_" not in words
