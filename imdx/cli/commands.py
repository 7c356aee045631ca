"""Attaches every command to ``main``. Add a line here when a new command module is added."""

from imdx.cli import main
from imdx.cli.cases import cases
from imdx.cli.census import census_group
from imdx.cli.data import areas_cmd, load_cmd, query_cmd, report_cmd, sources_cmd
from imdx.cli.diff import diff_cmd
from imdx.cli.estimate import estimate_group
from imdx.cli.library import library
from imdx.cli.mirror import mirror_cmd
from imdx.cli.registry import registry
from imdx.cli.serve import serve_cmd

for command in (sources_cmd, load_cmd, query_cmd, report_cmd, areas_cmd, diff_cmd, mirror_cmd, serve_cmd,
                estimate_group, cases, library, registry, census_group):
    main.add_command(command)
