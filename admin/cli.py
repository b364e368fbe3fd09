"""``kiosk-admin``: what administrators run on their own computer.

    kiosk-admin pull --server URL [--token TOKEN] --out FILE
    kiosk-admin report --db FILE | --server URL [options]

The admin token can come from the environment variable ``HAILONG_ADMIN_TOKEN``
so it does not sit in shell history. Bad options exit 2; known failures print
one plain sentence and exit 1.
"""

from __future__ import annotations

import click

from reports.command import report
from .client import TOKEN_ENV  # noqa: F401 - the name kiosk-admin's commands read the token from
from .pull import pull


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hai-long", prog_name="kiosk-admin")
def cli() -> None:
    """Hài Lòng for administrators: pull the synced ratings, read reports."""


cli.add_command(pull)
cli.add_command(report)


def main() -> None:
    cli(auto_envvar_prefix=None)


if __name__ == "__main__":
    main()
