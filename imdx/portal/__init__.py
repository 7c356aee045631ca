"""The web portal: server-rendered pages (world map, country profiles, corridors, flows, a data
explorer, sources, search) over the store, with every asset served locally.

Mount it into an app with ``app.include_router(portal_router(get_store))``; see docs/portal.md.
"""

from imdx.portal.router import portal_router

__all__ = ["portal_router"]
