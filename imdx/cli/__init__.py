"""The ``imdx`` command. One module per command group; this file only wires them together."""

from __future__ import annotations

import click

from imdx.cli.group import ImdxGroup


@click.group(cls=ImdxGroup)
@click.version_option(package_name="imdx")
def main():
    """imdx: migration statistics from many agencies, harmonised, checked and shared."""


def _register():
    from imdx.cli import commands  # noqa: F401  (imports attach the commands to `main`)


_register()
