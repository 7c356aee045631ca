"""The ``imdx`` command. One module per command group; this file only wires them together."""

from __future__ import annotations

import sys

import click

from imdx.errors import ImdxError


class _Group(click.Group):
    """Turns an :class:`ImdxError` into a one-line message and its exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ImdxError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(err.exit_code)


@click.group(cls=_Group)
@click.version_option(package_name="imdx")
def main():
    """imdx: migration statistics from many agencies, harmonised, checked and shared."""


def _register():
    from imdx.cli import commands  # noqa: F401  (imports attach the commands to `main`)


_register()
