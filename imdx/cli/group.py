"""The click group class every imdx command group uses."""

from __future__ import annotations

import sys

import click

from imdx.errors import ImdxError


class ImdxGroup(click.Group):
    """Turns an :class:`ImdxError` into a one-line message and its exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ImdxError as err:
            from imdx.cli.common import error_message

            click.echo(f"error: {error_message(err)}", err=True)
            sys.exit(err.exit_code)
