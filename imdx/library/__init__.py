"""The research library: records of research on migration, in the store, linked to the data, searchable.

Imports only the core (store, codes, model). Entry points:

- :class:`imdx.library.service.Library`: search, records, exports, imports over one store;
- :func:`imdx.library.ingest.import_file`: the one door for research files (all or nothing);
- :class:`imdx.library.index.LibraryIndex`: the tantivy index built from the stored records;
- ``imdx.cli.library.library``: the ``imdx library`` click group; ``imdx.api.routes.library``: the API.

See ``docs/library.md``.
"""
