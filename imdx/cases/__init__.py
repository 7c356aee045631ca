"""The counter-trafficking case database: standard, intake, access, audit, disclosure control, releases.

Imports nothing from ``imdx.api`` or ``imdx.portal``. Entry points:

- :class:`imdx.cases.service.CaseService` (``CaseService.from_env()``): the database and its actions;
- :func:`imdx.cases.routes.cases_router`: the ``/api/v1/cases`` FastAPI router for a service, which
  ``imdx serve`` mounts through :func:`imdx.cases.serving.case_service` when a database is configured;
- :mod:`imdx.cases.access` (who may do what, one organisation each), :mod:`imdx.cases.accounts`
  (users and sessions), :mod:`imdx.cases.throttle` (sign-in limits), :mod:`imdx.cases.policy` (each
  dataset's release policy), :mod:`imdx.cases.checkpoints` (signed audit heads);
- :func:`imdx.cases.releases.observations.observation_tables`: a published release as tidy
  observations of the dataflow ``trafficking_victims``;
- ``imdx.cli.cases.cases``: the ``imdx cases`` click group.

See ``docs/cases.md`` for the threat model and what each release protects against.
"""
