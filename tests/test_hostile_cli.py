"""Hostile and careless input to `cometly-elt`, one class of input at a time, across every command it reaches.

1. secrets: a key or token that could not be a Bearer credential is refused before any request, and no
   part of it is ever printed; `-` reads it from standard input, a terminal prompts for it;
2. external answers: a server that answers 200 with something that is not Cometly's (or Meta's) own
   format is not believed, and the working connection is kept; a key of another Space needs --yes;
3. numbers and dates: out of range is one line naming the range, which --help documents;
4. free text: control characters and overlong names are refused on input, and whatever reaches a
   terminal from outside (names, labels, errors) is escaped; a quoted input is shortened;
5. --json: standard output is JSON only, whatever is logged meanwhile;
and the last resort: an unexpected error is one line naming a log file (exit 70), `--debug` shows it.

Real PostgreSQL, the fake APIs as a process, and tiny loopback servers for the answers no API gives.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import subprocess
import termios
import threading
import unicodedata
from datetime import date, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cometly_elt import inputs
from cometly_elt.cli.output import table
from cometly_elt.errors import UserError
from cometly_elt.timezones import validate_timezone
from conftest import EXAMPLE_SCENARIO, FakeApi, cli as checked_cli, empty_warehouse
from helpers.fake_admin import FakeAdmin

cli = partial(checked_cli, check=False)
WS = "hostile"
LIVE_KEY = "ck_acme_live"
# Space space_acme's event 101 (example.json); space_other holds 201 only.
ACME_EVENT = "101"
OTHER_SPACE = {"id": "space_other", "timezone": "America/New_York",
               "api_keys": [{"key": "ck_other_space", "status": "active"}],
               "contacts": [{"id": 9, "events": [{"id": 201, "event_name": "purchase",
                                                  "time_utc": "2026-03-02T10:00:00Z"}]}]}


def run(*args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """`cometly-elt ARGS` with bytes on standard input (or none)."""
    result = subprocess.run(["cometly-elt", *args], input=stdin if stdin is not None else b"", capture_output=True,
                            timeout=600, env={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(errors="replace"),
                                       result.stderr.decode(errors="replace"))


def one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    """The one line a refusal prints (after any log records), with nothing on stdout."""
    assert (result.returncode, result.stdout) == (code, ""), result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("cometly-elt: "), result.stderr
    assert "Traceback" not in result.stderr
    return error


def controls(text: str) -> list[str]:
    """Control characters a terminal would act on (newlines aside)."""
    return [c for c in text if c != "\n" and (unicodedata.category(c) in ("Cc", "Zl", "Zp")
                                             or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069)]


# ---------------------------------------------------------------- loopback servers


class Recorder:
    """A loopback HTTP server answering every GET with one fixed answer, counting what it was asked."""

    def __init__(self, status: int, body: bytes, content_type: str):
        self.requests: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                recorder.requests.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answering():
    started: list[Recorder] = []

    def start(body: bytes = b"<!doctype html><html><body>Welcome!</body></html>", *, status: int = 200,
              content_type: str = "text/html; charset=utf-8") -> Recorder:
        started.append(Recorder(status, body, content_type))
        return started[-1]

    yield start
    for recorder in started:
        recorder.stop()


@pytest.fixture
def workspace(wh):
    assert cli("workspace", "add", WS, "--name", "Hostile", "--plan", "pro").returncode == 0
    return WS


def airflow_password(conn_id: str) -> str | None:
    from cometly_elt import credentials

    try:
        return credentials.get(conn_id).password
    except Exception:  # not stored
        return None


# ---------------------------------------------------------------- 1. secrets

SECRET_COMMANDS = {
    "cometly connect": ("cometly", "connect", WS, "--api-key"),
    "meta connect": ("meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token"),
}
HOSTILE_SECRETS = {
    "header injection": "ck_acme_live\nX-Evil: 1",
    "crlf": "ck_acme_live\r\nX-Evil: 1",
    "terminal escape": "ck_acme_live\x1b[2Jwiped",
    "space inside": "ck_acme live_key",
    "tab inside": "ck_acme\tlive_key",
    "c1 control": "ck_acme_live\x9bkey",
    "non-ascii": "ck_acme_lïve_key",
    "quote and backslash": "ck_acme'live\\key",
    "bidi override": "ck_acme_\u202elive_key",
    "huge": "ck_" + "Z" * 5000,
}


def fragments(secret: str) -> list[str]:
    """The pieces of a secret a leak would show (runs of 6+ plain characters)."""
    return [piece for piece in re.split(r"[^A-Za-z0-9_]+", secret) if len(piece) >= 6]


@pytest.mark.parametrize("how", ["argument", "stdin"])
@pytest.mark.parametrize("secret", HOSTILE_SECRETS.values(), ids=HOSTILE_SECRETS.keys())
@pytest.mark.parametrize("command", SECRET_COMMANDS.values(), ids=SECRET_COMMANDS.keys())
def test_a_secret_that_is_not_a_bearer_credential_is_refused_unsent_and_unprinted(
        answering, workspace, wh, command, secret, how):
    server = answering(b'{"data": []}', content_type="application/json")
    args = [*command, secret] if how == "argument" else [*command, "-"]
    result = run(*args, "--base-url", server.url, stdin=secret.encode() if how == "stdin" else None)

    error = one_line_error(result)
    assert ("too long" in error or "characters long" in error or "contains" in error), error
    for piece in fragments(secret):
        assert piece not in result.stdout + result.stderr
    assert server.requests == []
    assert wh.execute("select count(*) from control.cometly_connections").fetchone() == (0,)
    assert wh.execute("select count(*) from control.meta_ad_accounts").fetchone() == (0,)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.from_regex(r"ck_[A-Za-z0-9]{8,16}", fullmatch=True),
       bad=st.characters(categories=("Cc", "Zs", "Zl", "Zp")),
       suffix=st.from_regex(r"[A-Za-z0-9]{8,16}", fullmatch=True),
       command=st.sampled_from(list(SECRET_COMMANDS.values())))
def test_any_control_or_space_in_a_secret_from_stdin_never_reaches_the_output(workspace, prefix, bad, suffix,
                                                                               command):
    secret = prefix + bad + suffix
    result = run(*command, "-", "--base-url", "http://127.0.0.1:9", stdin=secret.encode())

    one_line_error(result)
    assert prefix not in result.stderr + result.stdout
    assert suffix not in result.stderr + result.stdout


@given(st.text(max_size=300))
def test_the_secret_check_accepts_exactly_bearer_tokens_and_never_quotes_a_refused_one(text):
    is_token = re.fullmatch(r"[A-Za-z0-9._~+/-]+=*", text.strip(" \t\r\n")) is not None
    try:
        accepted = inputs.secret(text, what="API key", empty_hint="copy it")
    except UserError as err:
        assert not is_token
        assert "\n" not in str(err)
        assert all(piece not in str(err) for piece in fragments(text))
    else:
        assert is_token and accepted == text.strip(" \t\r\n")
        if len(accepted) >= inputs.MIN_REDACTED:
            assert accepted not in inputs.redact(f"Bearer {accepted}")


def test_a_key_from_standard_input_is_stored_and_never_printed(fake_api, workspace, wh):
    api = fake_api()
    result = run("cometly", "connect", WS, "--api-key", "-", "--base-url", api.cometly_url,
                 stdin=f"{LIVE_KEY}\n".encode())

    assert result.returncode == 0, result.stderr
    assert LIVE_KEY not in result.stdout + result.stderr
    assert airflow_password(f"cometly_{WS}") == LIVE_KEY


@pytest.mark.parametrize("command", SECRET_COMMANDS.values(), ids=SECRET_COMMANDS.keys())
def test_a_missing_secret_without_a_terminal_says_how_to_give_it(workspace, command):
    option = command[-1]
    error = one_line_error(run(*command[:-1], "--base-url", "http://127.0.0.1:9"))
    assert error.endswith(f"pass it with '{option} -' on standard input, or {option} VALUE")


def _terminal_of_its_own() -> None:
    """In the child: a new session whose controlling terminal is the pty on stdin (getpass opens /dev/tty)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_a_key_left_out_on_a_terminal_is_prompted_for_without_echo_to_stdout(fake_api, workspace, wh):
    api = fake_api()
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(["cometly-elt", "cometly", "connect", WS, "--base-url", api.cometly_url],
                                stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_terminal_of_its_own)
        # Typed once the prompt shows: turning echo off flushes what was typed before.
        prompt = b""
        while not prompt.endswith(b"API key: "):
            chunk = os.read(proc.stderr.fileno(), 1)
            assert chunk, "no prompt"
            prompt += chunk
        os.write(controller, f"{LIVE_KEY}\n".encode())
        out, err = proc.communicate(timeout=300)
        err = prompt.decode() + err
    finally:
        os.close(terminal)
        os.close(controller)

    assert proc.returncode == 0, err
    assert "API key: " in err
    assert LIVE_KEY not in out + err
    assert airflow_password(f"cometly_{WS}") == LIVE_KEY


# ---------------------------------------------------------------- 2. external answers

NOT_COMETLY = {
    "html page": (b"<!doctype html><html><body>Welcome!</body></html>", "text/html"),
    "json of another service": (b'{"status": "ok", "items": []}', "application/json"),
    "json list": (b"[]", "application/json"),
}


@pytest.mark.parametrize("body, content_type", NOT_COMETLY.values(), ids=NOT_COMETLY.keys())
def test_cometly_connect_believes_only_cometlys_json_and_keeps_the_working_connection(
        fake_api, answering, workspace, wh, body, content_type):
    api = fake_api()
    assert cli("cometly", "connect", WS, "--api-key", LIVE_KEY, "--base-url", api.cometly_url).returncode == 0
    impostor = answering(body, content_type=content_type)

    result = run("cometly", "connect", WS, "--api-key", "ck_another_key", "--base-url", impostor.url + "/v1")

    error = one_line_error(result)
    assert error == (f"cometly-elt: the answer at {impostor.url}/v1 is not Cometly's API (not the JSON Cometly"
                     " sends): check --base-url; nothing was stored")
    assert impostor.requests  # it was asked, and not believed
    assert wh.execute("select base_url from control.cometly_connections").fetchall() == [(api.cometly_url,)]
    assert airflow_password(f"cometly_{WS}") == LIVE_KEY


NOT_META = {
    "html page": (b"<!doctype html><html><body>Welcome!</body></html>", "text/html",
                  "the answer at {url} is not Meta's Graph API (it is not JSON): check --base-url"),
    "json of another service": (b'{"status": "ok"}', "application/json",
                                "the answer at {url} is not Meta's Graph API (no ad account act_1000000001 in it):"
                                " check --base-url; nothing was stored"),
}


@pytest.mark.parametrize("body, content_type, message", NOT_META.values(), ids=NOT_META.keys())
def test_meta_connect_believes_only_metas_answer(answering, workspace, wh, body, content_type, message):
    impostor = answering(body, content_type=content_type)

    result = run("meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token", "EAAB_acme_valid",
                 "--base-url", impostor.url)

    assert one_line_error(result) == "cometly-elt: " + message.format(url=impostor.url)
    assert wh.execute("select count(*) from control.meta_ad_accounts").fetchone() == (0,)
    assert airflow_password(f"meta_{WS}_1000000001") is None


def _load_acme_event(wh) -> None:
    """A Cometly row the workspace already holds: Space space_acme's event 101."""
    batch = wh.execute(
        "insert into raw_cometly.load_batches (workspace_id, settings_version, method, window_start_utc,"
        " window_end_utc, event_names, received, loaded, rejected, api_calls, duration_ms)"
        " values (%s, 1, 'list', '2026-03-01', '2026-03-02', '{purchase}', 1, 1, 0, 1, 1) returning batch_id",
        (WS,)).fetchone()[0]
    wh.execute("insert into raw_cometly.events (workspace_id, settings_version, event_id, event_name,"
               " event_time_utc, batch_id) values (%s, 1, %s, 'purchase', '2026-03-01 12:00+00', %s)",
               (WS, ACME_EVENT, batch))
    wh.execute("insert into control.sync_state (workspace_id, last_synced_at, synced_through)"
               " values (%s, now(), '2026-03-02')", (WS,))


def test_a_key_of_another_space_needs_yes_then_the_next_sync_rereads_all_history(
        fake_api, example_scenario, workspace, wh):
    example_scenario["cometly"]["spaces"][0]["api_keys"].append({"key": "ck_acme_second", "status": "active"})
    example_scenario["cometly"]["spaces"].append(OTHER_SPACE)
    api = fake_api(example_scenario)
    assert cli("cometly", "connect", WS, "--api-key", LIVE_KEY, "--base-url", api.cometly_url).returncode == 0
    _load_acme_event(wh)

    # Another key of the same Space finds the loaded event: no question asked.
    assert cli("cometly", "connect", WS, "--api-key", "ck_acme_second", "--base-url", api.cometly_url).returncode == 0
    assert airflow_password(f"cometly_{WS}") == "ck_acme_second"

    refused = run("cometly", "connect", WS, "--api-key", "ck_other_space", "--base-url", api.cometly_url)
    assert one_line_error(refused) == (
        f"cometly-elt: this key is of another Cometly Space: none of the 1 newest events workspace '{WS}' already"
        " loaded is in it. Connecting it replaces the workspace's Cometly history with the other Space's at the"
        " next sync: add --yes to confirm")
    assert airflow_password(f"cometly_{WS}") == "ck_acme_second"
    assert wh.execute("select synced_through is not null from control.sync_state").fetchone() == (True,)

    switched = run("cometly", "connect", WS, "--api-key", "ck_other_space", "--base-url", api.cometly_url, "--yes")
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.startswith(f"Workspace '{WS}' now reads another Cometly Space: its next sync re-extracts"
                                      " the whole history from it")
    assert airflow_password(f"cometly_{WS}") == "ck_other_space"
    assert wh.execute("select synced_through from control.sync_state").fetchone() == (None,)


# ---------------------------------------------------------------- 3. numbers and dates

TOMORROW = (date.today() + timedelta(days=2)).isoformat()
OUT_OF_RANGE = {
    "report days 0": (["report", WS, "--days", "0"], "--days 0 is out of range: use 1 to 3660 days"),
    "report days negative": (["report", WS, "--days", "-5"], "--days -5 is out of range: use 1 to 3660 days"),
    "report days huge": (["report", WS, "--days", "10000000"], "--days 10000000 is out of range: use 1 to 3660 days"),
    "report days overflow": (["report", WS, "--days", "9" * 30],
                             f"--days '{'9' * 30}' is not a whole number: use 1 to 3660 days"),
    "report days float": (["report", WS, "--days", "1e3"], "--days '1e3' is not a whole number: use 1 to 3660 days"),
    "history start year 1": (["workspace", "add", "h1", "--name", "H", "--plan", "pro", "--history-start",
                              "0001-01-01"],
                             "history start 0001-01-01 is before Cometly existed: give 2019-01-01 or later"),
    "history start 2018": (["workspace", "add", "h1", "--name", "H", "--plan", "pro", "--history-start",
                            "2018-12-31"],
                           "history start 2018-12-31 is before Cometly existed: give 2019-01-01 or later"),
    "history start future": (["workspace", "add", "h1", "--name", "H", "--plan", "pro", "--history-start",
                              TOMORROW], f"history start {TOMORROW} is in the future: give a past date"),
    "fake port 0": (["fake", "serve", "--scenario", str(EXAMPLE_SCENARIO), "--port", "0"],
                    "--port 0 is out of range: use 1 to 65535"),
    "fake port 70000": (["fake", "serve", "--scenario", str(EXAMPLE_SCENARIO), "--port", "70000"],
                        "--port 70000 is out of range: use 1 to 65535"),
}


@pytest.mark.parametrize("args, message", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_numbers_and_dates_out_of_range_are_one_line_naming_the_range(workspace, wh, args, message):
    assert one_line_error(run(*args)) == f"cometly-elt: {message}"
    assert wh.execute("select workspace_id from control.workspaces").fetchall() == [(WS,)]


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf", "1e9"])
def test_the_fake_clock_speed_is_a_usage_error_naming_its_range(speed):
    result = run("fake", "serve", "--scenario", str(EXAMPLE_SCENARIO), "--port", "1", "--clock-speed", speed)
    assert (result.returncode, result.stdout) == (2, "")
    assert "expected a number > 0 and <= 100000" in result.stderr


@pytest.mark.parametrize("command, documented", [
    (["report"], "1 to 3660"),
    (["workspace", "add"], "from 2019-01-01 (Cometly did not exist before) to today"),
    (["workspace", "add"], "1 to 100 characters"),
    (["fake", "serve"], "1 to 65535"),
    (["cometly", "configure"], "Fixed offsets and legacy aliases (EST, Etc/GMT-3, US/Eastern) are refused"),
    (["cometly", "connect"], "'-' reads it from standard input"),
    (["meta", "connect"], "'-' reads it from standard input"),
])
def test_help_documents_each_range_and_rule(command, documented):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert documented in " ".join(result.stdout.split())


# ---------------------------------------------------------------- 4. free text

@pytest.mark.parametrize("name", ["Acme\nEvil", "\x1b[31mRed\x1b[0m", "Acme\rOverwrite", "Tab\tName", "C1\x9b31m",
                                  "Bidi \u202eemaN", "x" * 101, "x" * 10_000])
def test_a_workspace_name_with_control_characters_or_too_long_is_refused(wh, name):
    error = one_line_error(run("workspace", "add", "h1", "--name", name, "--plan", "pro"))
    assert not controls(error)
    assert len(error) < 300
    assert wh.execute("select count(*) from control.workspaces").fetchone() == (0,)


def test_a_name_of_the_longest_length_is_kept_verbatim(wh):
    name = "Ü" + "ñ" * 98 + "✓"
    assert run("workspace", "add", "h1", "--name", name, "--plan", "pro").returncode == 0
    assert json.loads(run("workspace", "list", "--json").stdout)[0]["name"] == name


ID_COMMANDS = {
    "workspace add": ["workspace", "add", "{id}", "--name", "N", "--plan", "pro"],
    "workspace pause": ["workspace", "pause", "{id}"],
    "workspace resume": ["workspace", "resume", "{id}"],
    "workspace remove": ["workspace", "remove", "{id}", "--yes"],
    "status": ["status", "{id}"],
    "report": ["report", "{id}"],
    "sync": ["sync", "{id}"],
    "cometly connect": ["cometly", "connect", "{id}", "--api-key", "ck_x_key"],
    "cometly configure": ["cometly", "configure", "{id}", "--model", "first_touch", "--window", "7",
                          "--timezone", "UTC"],
    "cometly events": ["cometly", "events", "{id}"],
    "cometly select": ["cometly", "select", "{id}", "purchase"],
    "meta connect": ["meta", "connect", "{id}", "--ad-account", "act_1", "--access-token", "EAAB_x"],
    "results set": ["results", "set", "{id}", "--campaign", "1", "--event", "purchase"],
}
HOSTILE_IDS = {"10,000 characters": "w" * 10_000, "escape codes": "ws\x1b]0;pwned\x07\x1b[2J",
               "path": "../../etc/passwd", "sql": "x'; drop table control.workspaces; --"}


@pytest.mark.parametrize("workspace_id", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
@pytest.mark.parametrize("command", ID_COMMANDS.values(), ids=ID_COMMANDS.keys())
def test_every_command_refuses_a_malformed_id_quoting_it_short_and_escaped(wh, command, workspace_id):
    error = one_line_error(run(*[a.replace("{id}", workspace_id) for a in command]))

    assert error.startswith("cometly-elt: workspace ID '")
    assert error.endswith("is not allowed: use up to 63 letters, digits, '-' or '_', starting with a letter or digit")
    assert not controls(error)
    assert len(error) < 250
    assert wh.execute("select count(*) from control.workspaces").fetchone() == (0,)


def test_an_id_differing_only_in_case_is_refused(wh):
    assert run("workspace", "add", "acme", "--name", "Acme", "--plan", "pro").returncode == 0
    assert one_line_error(run("workspace", "add", "ACME", "--name", "Acme 2", "--plan", "pro")) == (
        "cometly-elt: workspace ID 'ACME' differs only in case from the existing 'acme': IDs are compared without"
        " case, so use that one or choose another")
    assert wh.execute("select workspace_id from control.workspaces").fetchall() == [("acme",)]


@pytest.mark.parametrize("args", [["workspace", "\x1b[31mlist"], ["status", WS, "\x1b[2J" + "y" * 5000]],
                         ids=["invalid choice", "extra argument"])
def test_usage_errors_escape_and_shorten_what_they_quote(args):
    result = run(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert not controls(result.stderr)
    assert len(result.stderr) < 1500


def _hostile_rows(wh, text: str) -> None:
    """Text from outside in every place a command shows: a name stored before names were checked, Cometly's
    labels, Meta's account name and timezone, a sync error."""
    wh.execute("insert into control.workspaces (workspace_id, name, plan, history_start, timezone)"
               " values (%s, %s, 'pro', '2026-01-01', 'UTC')", (WS, text))
    wh.execute("insert into control.event_catalog (workspace_id, event_name, label) values (%s, 'custom_event_3', %s)",
               (WS, text))
    wh.execute("insert into control.selected_events (workspace_id, event_name) values (%s, 'custom_event_3')", (WS,))
    wh.execute("insert into control.meta_ad_accounts (workspace_id, ad_account_id, conn_id, base_url, name,"
               " timezone_name) values (%s, '1', 'meta_x', 'http://x', %s, %s)", (WS, text, text))
    wh.execute("insert into control.sync_state (workspace_id, last_error, last_error_at) values (%s, %s, now())",
               (WS, text))


SHOWING_COMMANDS = {
    "workspace list": ["workspace", "list"],
    "status": ["status", WS],
    "cometly select": ["cometly", "select", WS, "custom_event_3", "purchase"],
    "cometly unselect": ["cometly", "unselect", WS, "custom_event_3"],
}


@pytest.mark.parametrize("command", SHOWING_COMMANDS.values(), ids=SHOWING_COMMANDS.keys())
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40).map(
    lambda t: "\x1b[31m" + t + "\x9b2J\u202e"))
def test_text_from_outside_never_puts_a_control_character_on_the_terminal(warehouse_url, command, text):
    with psycopg.connect(warehouse_url, autocommit=True) as wh:
        empty_warehouse(wh)
        _hostile_rows(wh, text)
    result = run(*command)

    assert result.returncode == 0, result.stderr
    assert controls(result.stdout) == []
    assert "\\x1b[31m" in result.stdout


@given(st.lists(st.lists(st.text(), min_size=2, max_size=2), max_size=4))
def test_a_table_escapes_every_cell(rows):
    shown = table(["A", "B"], rows)
    assert controls(shown) == []
    assert len(shown.split("\n")) == len(rows) + 2
    assert all(len(line) <= 2 * 100 + 2 for line in shown.split("\n"))


@given(st.text(max_size=20_000))
def test_a_quoted_input_is_escaped_and_short(text):
    shown = inputs.quoted(text)
    assert controls(shown) == []
    assert len(shown) <= inputs.MAX_QUOTED + 40


def test_selecting_a_custom_event_cometly_has_not_shown_is_allowed_with_a_note(workspace, wh):
    result = run("cometly", "select", WS, "custom_event_7")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Selected for '{WS}': custom_event_7.\nEvents synced: custom_event_7.\n"
    assert result.stderr == (f"note: Cometly has not shown custom_event_7 in this Space yet ('cometly-elt cometly"
                             f" events {WS}' lists what it has): it syncs once Cometly records conversions for it\n")


@pytest.mark.parametrize("event", ["label\x1b[2J", "l" * 201])
def test_an_event_reference_with_controls_or_too_long_is_refused_short(workspace, wh, event):
    error = one_line_error(run("cometly", "select", WS, event))
    assert not controls(error) and len(error) < 250
    assert wh.execute("select count(*) from control.selected_events").fetchone() == (0,)


TIMEZONES = {
    "EST": "timezone 'EST' is a fixed offset or a legacy alias, not a region: use the Space's region, such as"
           " America/New_York (or UTC), as the Cometly Space is set",
    "Etc/GMT-3": "timezone 'Etc/GMT-3' means UTC+3 (POSIX inverts the sign) with no daylight saving time: use the"
                 " Space's region, such as America/New_York (or UTC), as the Cometly Space is set",
    "US/Eastern": "timezone 'US/Eastern' is a fixed offset or a legacy alias, not a region: use America/New_York"
                  " (or UTC), as the Cometly Space is set",
}


@pytest.mark.parametrize("name, message", TIMEZONES.items(), ids=TIMEZONES.keys())
def test_fixed_offset_and_legacy_timezones_are_refused_with_a_region_to_use(name, message):
    with pytest.raises(UserError) as refused:
        validate_timezone(name)
    assert str(refused.value) == message


@pytest.mark.parametrize("name", ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC"])
def test_region_timezones_and_utc_are_accepted(name):
    assert validate_timezone(name) == name


def test_configure_refuses_a_legacy_timezone_and_changes_nothing(workspace, wh):
    error = one_line_error(run("cometly", "configure", WS, "--model", "first_touch", "--window", "7",
                               "--timezone", "EST"))
    assert error == f"cometly-elt: {TIMEZONES['EST']}"
    assert wh.execute("select timezone from control.workspaces").fetchone() == (None,)


# ---------------------------------------------------------------- 5. --json, and unexpected errors


class TestConnectedWorkspace:
    """One connected, configured workspace (set up once: each command is a second Airflow start)."""

    @pytest.fixture(scope="class")
    def api(self, warehouse_url, tmp_path_factory):
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            empty_warehouse(conn)
        folder = tmp_path_factory.mktemp("hostile_fake")
        api = FakeApi(EXAMPLE_SCENARIO, [], folder / "fake.log")
        for args in (["workspace", "add", WS, "--name", "Hostile", "--plan", "pro", "--history-start", "2026-02-15"],
                     ["cometly", "connect", WS, "--api-key", LIVE_KEY, "--base-url", api.cometly_url],
                     ["cometly", "configure", WS, "--model", "first_touch", "--window", "lifetime", "--timezone",
                      "America/New_York", "--yes"]):
            assert cli(*args).returncode == 0
        yield api
        api.stop()

    JSON_COMMANDS = {
        "cometly events": (["cometly", "events", WS, "--json"], {"api": "cometly", "path": "/events$", "times": 1,
                                                                 "fault": "status", "status": 503}),
        "meta connect": (["meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token",
                          "EAAB_acme_valid", "--base-url", "{meta}", "--json"],
                         {"api": "meta", "times": 1, "fault": "status", "status": 500}),
        "status": (["status", WS, "--json"], None),
        "workspace list": (["workspace", "list", "--json"], None),
        "report": (["report", WS, "--json"], None),
    }

    @pytest.mark.parametrize("command, fault", JSON_COMMANDS.values(), ids=JSON_COMMANDS.keys())
    def test_json_output_is_only_json_whatever_is_logged(self, api, command, fault):
        FakeAdmin(api).faults(*([fault] if fault else []))
        result = run(*[a.replace("{meta}", api.meta_url) for a in command])

        if command[0] == "report":  # no marts in this warehouse: a user error, and still nothing on stdout
            assert one_line_error(result) == f"cometly-elt: the marts are not built yet: run 'cometly-elt sync {WS}'" \
                                             " first"
            return
        assert result.returncode == 0, result.stderr
        json.loads(result.stdout)
        if fault:
            assert "retrying" in result.stderr  # the retry was logged, on stderr

    def test_an_unexpected_error_is_one_line_naming_the_log_and_debug_shows_the_traceback(self, api, tmp_path):
        broken = {"COMETLY_API_MINUTE_SECONDS": "not-a-number", "COMETLY_ELT_LOG_DIR": str(tmp_path)}

        error = one_line_error(run("cometly", "events", WS, "--json", env=broken),
                               code=70)
        (log,) = tmp_path.glob("crash-*.log")
        assert error == (f"cometly-elt: unexpected error (ValueError): the traceback is in {log}; please report it")
        assert "Traceback (most recent call last)" in log.read_text()
        assert "not-a-number" in log.read_text()

        for debug in (["--debug"], []):
            env = broken if debug else {**broken, "COMETLY_ELT_DEBUG": "1"}
            shown = run(*debug, "cometly", "events", WS, env=env)
            assert (shown.returncode, shown.stdout) == (70, "")
            assert "Traceback (most recent call last)" in shown.stderr
            assert shown.stderr.rstrip().splitlines()[-1].startswith("ValueError")

    def test_a_crash_log_never_holds_the_secret(self, api, tmp_path):
        # The Airflow metadata database is unreachable: storing the (valid) key fails unexpectedly.
        env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@127.0.0.1:9/none",
               "COMETLY_ELT_LOG_DIR": str(tmp_path)}
        result = run("cometly", "connect", WS, "--api-key", LIVE_KEY, "--base-url", api.cometly_url, env=env)

        (log,) = tmp_path.glob("crash-*.log")
        assert one_line_error(result, code=70) == (f"cometly-elt: unexpected error (OperationalError): the traceback"
                                                   f" is in {log}; please report it")
        assert LIVE_KEY not in result.stderr
        assert "cometly connect hostile --api-key *** --base-url" in log.read_text()
        assert LIVE_KEY not in log.read_text()
