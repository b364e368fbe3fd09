"""The accounts page's database work on a national tree (issue 11 §2): 18,626 nodes and 2,000 accounts on
SQLite, for a unit admin, a province admin scoped to a province, and a whole-server province admin. Prints
how many accounts each sees and may change, whether its scope picker is a list or a code field, and the median
time of the page's reads (server.account_reach). Nothing is asserted.

    .venv/bin/python bench/accounts_reach.py
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent))

from sqlalchemy import create_engine, insert  # noqa: E402

from national_data import NODE_COLUMNS, national_tree  # noqa: E402
from server.access import Caller, scope_nodes  # noqa: E402
from server.account_reach import accounts_changed_by, accounts_seen, scope_choices, scope_words  # noqa: E402
from server.db import migrate, write_transaction  # noqa: E402
from server.people import create_account  # noqa: E402
from server.schema import nodes  # noqa: E402

ACCOUNTS = 2000
ROLES = ("unit_admin", "viewer", "technician", "inspector")


def main() -> None:
    path = Path(tempfile.mkdtemp()) / "accounts.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    tree = national_tree()
    with engine.connect() as conn, write_transaction(conn):
        conn.execute(insert(nodes), [dict(zip(NODE_COLUMNS, row)) for row in tree.nodes])
        units = tree.ids_of("unit")
        for i in range(ACCOUNTS):  # 2,000 accounts over the first 500 units
            create_account(conn, username=f"nguoi.{i:04d}", display_name=f"Người {i}", role=ROLES[i % 4],
                           scope_node_id=units[i % 500], password=None, now_ns=0)
    print(f"nodes: {len(tree.nodes)}, accounts: {ACCOUNTS}")
    callers = {"unit admin": Caller(0, "ua", "x", "unit_admin", units[0]),
               "province admin of a province": Caller(0, "p", "x", "province_admin", tree.ids_of("province")[0]),
               "whole-server province admin": Caller(0, "w", "x", "province_admin", None)}
    for name, caller in callers.items():
        times = []
        for _ in range(7):
            start = time.perf_counter()
            with engine.connect() as conn:
                inside = scope_nodes(conn, caller)
                listed = accounts_seen(conn, caller, inside)
                choices = scope_choices(conn, caller, inside)
                scope_words(conn, {a.scope_node_id for a in listed} | {caller.scope_node_id})
                managed = accounts_changed_by(caller, listed, inside)
            times.append(time.perf_counter() - start)
        print(f"{name}: {len(listed)} accounts listed, {len(managed)} changeable, picker "
              f"{'list of %d' % len(choices) if choices is not None else 'code field'}; "
              f"median {statistics.median(times) * 1000:.0f} ms of 7")


if __name__ == "__main__":
    main()
