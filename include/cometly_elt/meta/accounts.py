"""Connecting Meta ad accounts to a workspace, and the timezone warning `status` shows about them.

A workspace can connect several ad accounts. Each token is checked against
its account before anything is stored; then it becomes an Airflow connection
(encrypted in Airflow's metadata database) and the warehouse keeps only the
connection's id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cometly_elt import inputs
from cometly_elt.control.meta_accounts import TimezoneMismatch
from cometly_elt.errors import UserError
from cometly_elt.meta import DEFAULT_BASE_URL

_AD_ACCOUNT = re.compile(r"act_([0-9]+)")
# The client adds the version itself; a pasted versioned URL is cut back to the host.
_VERSION_SUFFIX = re.compile(r"/v[0-9]+\.[0-9]+/?$")
EMPTY_TOKEN_HINT = "create one in Meta Business Settings → System users → Generate token (with ads_read)"
ACCOUNT_FIELDS = ["id", "account_id", "name", "currency", "timezone_name", "account_status"]


@dataclass(frozen=True)
class ConnectedAccount:
    workspace_id: str
    ad_account_id: str  # digits, without act_
    conn_id: str
    name: str | None
    currency: str | None
    timezone_name: str | None
    workspace_timezone: str | None

    @property
    def timezone_warning(self) -> str | None:
        if self.timezone_name and self.workspace_timezone and self.timezone_name != self.workspace_timezone:
            return TimezoneMismatch(self.ad_account_id, self.timezone_name, self.workspace_timezone).message
        return None



def parse_ad_account(text: str) -> str:
    """'act_123' → '123'; anything else is refused before any call to Meta."""
    match = _AD_ACCOUNT.fullmatch(text.strip())
    if match is None:
        raise UserError(f"{inputs.quoted(text)} is not an ad account id: use act_ followed by the account's digits,"
                        " e.g. act_1234567890 (Ads Manager shows it in the URL as act=1234567890)")
    return match.group(1)


def graph_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"base URL {inputs.quoted(url)} is not an http(s) URL:"
                        f" leave --base-url out to use {DEFAULT_BASE_URL}")
    return _VERSION_SUFFIX.sub("", url.strip()).rstrip("/")


def conn_id_for(workspace_id: str, ad_account_id: str) -> str:
    return f"meta_{workspace_id}_{ad_account_id}"


def connect_account(workspace_id: str, *, ad_account: str, access_token: str,
                    base_url: str = DEFAULT_BASE_URL) -> ConnectedAccount:
    """Check that the token can read the account, then store both; nothing is stored on any refusal."""
    from cometly_elt import control, credentials, warehouse
    from cometly_elt.hooks.meta import MetaAdsHook

    digits, base_url = parse_ad_account(ad_account), graph_base_url(base_url)
    token = inputs.secret(access_token, what="access token", empty_hint=EMPTY_TOKEN_HINT)
    with warehouse.connect() as conn:
        control.get_workspace(conn, workspace_id)
    hook = MetaAdsHook.for_token(token, base_url=base_url, ad_account_id=f"act_{digits}", workspace_id=workspace_id)
    node = hook.ad_account(f"act_{digits}", ACCOUNT_FIELDS)
    conn_id = conn_id_for(workspace_id, digits)
    with warehouse.connect() as conn:
        workspace = control.get_workspace(conn, workspace_id, for_update=True)
        control.save_meta_ad_account(conn, workspace_id, ad_account_id=digits, conn_id=conn_id, base_url=base_url,
                                     name=node.get("name"), currency=node.get("currency"),
                                     timezone_name=node.get("timezone_name"))
        # Last, inside the warehouse transaction: if storing fails, the row above is rolled back.
        credentials.store(conn_id, conn_type=MetaAdsHook.conn_type, host=base_url, password=token,
                          extra={"workspace_id": workspace_id, "ad_account_id": f"act_{digits}"},
                          description=f"Meta ad account act_{digits} of workspace {workspace_id}")
    return ConnectedAccount(workspace_id, digits, conn_id, node.get("name"), node.get("currency"),
                            node.get("timezone_name"), workspace["timezone"])
