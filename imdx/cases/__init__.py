"""The counter-trafficking case database: standard, intake, access, audit, disclosure control, releases.

Imports nothing from ``imdx.api`` or ``imdx.portal``. Entry points:

- :class:`imdx.cases.service.CaseService` (``CaseService.from_env()``): the database and its actions;
- :func:`imdx.cases.routes.cases_router`: the ``/api/v1/cases`` FastAPI router for a service;
- :func:`imdx.cases.releases.observations.observation_tables`: a published release as tidy
  observations of the dataflow ``trafficking_victims``;
- ``imdx.cli.cases.cases``: the ``imdx cases`` click group.

See ``docs/cases.md`` for what each release protects against.
"""
