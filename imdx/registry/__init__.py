"""The coordination registry: who does what, where, in the store, linked to the data and to the GCM.

Imports the core and the case database's public access functions (accounts, roles, tokens) only. Entry
points: :class:`imdx.registry.service.Registry` (read and change entries, audited),
:mod:`imdx.registry.seed`, :mod:`imdx.registry.threew` (3W with HXL), :mod:`imdx.registry.gaps`;
``imdx.cli.registry.registry``; ``imdx.api.routes.registry``. See ``docs/registry.md``.
"""
