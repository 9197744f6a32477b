"""Sub-command: meta connect: the Settings → Integrations → Meta card (several ad accounts per workspace)."""

from __future__ import annotations

import argparse
import sys

from cometly_elt.cli.output import emit, json_parent
from cometly_elt.cli.secret_input import add_secret_option, read_secret
from cometly_elt.inputs import terminal_text
from cometly_elt.meta import DEFAULT_BASE_URL


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("meta", help="Meta ad accounts")
    sub = parser.add_subparsers(dest="meta_command", required=True, metavar="ACTION")

    connect = sub.add_parser("connect", help="check that a token can read an ad account, then store it encrypted",
                             parents=[json_parent()])
    connect.add_argument("workspace_id", metavar="ID")
    connect.add_argument("--ad-account", required=True, metavar="act_N", help="the ad account id, e.g. act_1234567890")
    add_secret_option(connect, "--access-token", "TOKEN",
                      "system user token with ads_read (Meta Business Settings → System users)")
    connect.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL",
                         help=f"Graph API host, without the version (default: {DEFAULT_BASE_URL})")
    connect.set_defaults(func=_connect)


def _connect(args: argparse.Namespace) -> int:
    from cometly_elt import actions
    from cometly_elt.meta.accounts import EMPTY_TOKEN_HINT

    token = read_secret(args.access_token, option="--access-token", what="access token", empty_hint=EMPTY_TOKEN_HINT)
    account = actions.connect_meta_account(args.workspace_id, ad_account=args.ad_account, access_token=token,
                                           base_url=args.base_url)
    emit(args, {
        "workspace_id": account.workspace_id, "ad_account_id": account.ad_account_id, "conn_id": account.conn_id,
        "name": account.name, "currency": account.currency, "timezone_name": account.timezone_name,
        "timezone_warning": account.timezone_warning,
    }, lambda a: (f"Connected ad account act_{a['ad_account_id']} ({a['name']}) to workspace {a['workspace_id']}:"
                  f" currency {a['currency']}, timezone {a['timezone_name']}."))
    if account.timezone_warning:
        print(f"warning: {terminal_text(account.timezone_warning)}", file=sys.stderr)
    return 0
