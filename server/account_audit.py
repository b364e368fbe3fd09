"""Account changes in the audit trail: one entry per change, its subject the account's user name and its scope
the account's scope node (so a scoped reader of the trail sees the changes to the accounts of its subtree).

Never a password, a one-time password or a TOTP secret in ``details``: only what changed and how.

    with engine.connect() as conn, write_transaction(conn):
        made = create_account(conn, ...)
        record_account(conn, actor=cli_actor(), action="account_create", account=made,
                       details={"role": made.role, "scope": made.scope_node_id})
"""

from __future__ import annotations

from sqlalchemy import Connection

from .audit import Actor, Appended, record
from .people import Account


def record_account(conn: Connection, *, actor: Actor, action: str, account: Account, details: dict | None = None,
                   scope: int | None = None, address: str | None = None, now_ns: int | None = None) -> Appended:
    """Record ``action`` (account_create, account_change, role_change, password_reset) done to ``account``;
    ``scope`` defaults to the account's scope node (None, a whole-server account: the actor's)."""
    return record(conn, actor=actor, action=action, subject=account.username,
                  scope=account.scope_node_id if scope is None else scope, details=details, address=address,
                  now_ns=now_ns)
