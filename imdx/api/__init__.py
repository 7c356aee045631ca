"""The REST API (FastAPI): ``create_app(db_path)``; ``imdx serve`` runs it with uvicorn."""

from imdx.api.app import create_app

__all__ = ["create_app"]
