"""HTTP routes under ``/api/v1/cases``: a FastAPI ``APIRouter`` built by :func:`cases_router`.

Every route resolves the caller from the ``Authorization: Bearer <token>`` header (no header =
public) and calls the service, whose every method goes through the single authorisation function.
Refusals answer 401 (no/expired token), 403 (role may not) or 404 (not visible to this caller) and
are written to the audit log. Error bodies: ``{"detail": {"type": ..., "message": ...}}``.

Mount it with ``app.include_router(cases_router(CaseService.from_env()))``.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from imdx.cases.access import Principal
from imdx.cases.errors import AccessDenied, BudgetExceeded, CaseError, IntakeError, ReleaseError
from imdx.cases.releases import publish
from imdx.cases.service import CaseService
from imdx.cases.values import plain

PREFIX = "/api/v1/cases"


class Login(BaseModel):
    username: str
    password: str


class ReleaseRequest(BaseModel):
    kind: str
    parameters: dict[str, Any] = {}
    dataset: str = "all"
    audience: str = "public"


class NewUser(BaseModel):
    username: str
    password: str
    organisation: str
    role: str


class Share(BaseModel):
    organisation: str


def _http(err: CaseError) -> HTTPException:
    if isinstance(err, AccessDenied):
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return HTTPException(err.status, {"type": "access-denied", "message": str(err)}, headers=headers)
    status = {BudgetExceeded: 409, ReleaseError: 400, IntakeError: 400}.get(type(err), 400)
    return HTTPException(status, {"type": type(err).__name__, "message": str(err)})


def _guard(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CaseError as err:
            raise _http(err) from None
    return wrapper


def _records(frame) -> list[dict]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def cases_router(service: CaseService) -> APIRouter:
    """The ``/api/v1/cases`` routes bound to one :class:`CaseService`."""
    router = APIRouter(prefix=PREFIX, tags=["cases"])

    def who(authorization: str | None) -> Principal:
        if authorization is None:
            return service.principal(None)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AccessDenied(401, "send the token as 'Authorization: Bearer <token>'")
        return service.principal(token.strip())

    @router.post("/token")
    @_guard
    def token(body: Login):
        return {"access_token": service.login(body.username, body.password), "token_type": "bearer",
                "expires_in": service.settings.token_minutes * 60}

    @router.post("/records", status_code=201)
    @_guard
    def create_record(record: Annotated[dict[str, Any], Body()], authorization: str | None = Header(None)):
        submission = service.submit_record(who(authorization), record)
        report = submission.report.to_frame().to_dict(orient="records")
        if submission.n_accepted == 0:
            return JSONResponse({"detail": {"type": "invalid-record", "message": "the record was not accepted",
                                            "report": report}}, status_code=422)
        return {"case_id": submission.case_ids[0], "possible_duplicate": submission.n_possible_duplicates > 0,
                "report": report}

    @router.get("/records")
    @_guard
    def list_records(authorization: str | None = Header(None)):
        return _records(service.list_cases(who(authorization)))

    @router.get("/records/{case_id}")
    @_guard
    def read_record(case_id: str, authorization: str | None = Header(None)):
        return service.read_case(who(authorization), case_id)

    @router.get("/deidentified")
    @_guard
    def deidentified(authorization: str | None = Header(None)):
        return _records(service.deidentified(who(authorization)))

    @router.get("/completeness")
    @_guard
    def completeness(authorization: str | None = Header(None)):
        return _records(service.completeness(who(authorization)))

    @router.post("/users", status_code=201)
    @_guard
    def create_user(body: NewUser, authorization: str | None = Header(None)):
        service.add_user(who(authorization), body.username, body.password, body.organisation, body.role)
        return {"username": body.username, "role": body.role}

    @router.get("/audit/verify")
    @_guard
    def verify_audit(authorization: str | None = Header(None)):
        report, head = service.verify_audit(who(authorization))
        return {"intact": len(report) == 0, "head": {"seq": head[0], "hash": head[1]},
                "issues": report.to_frame().to_dict(orient="records")}

    @router.post("/keys/rotate")
    @_guard
    def rotate_keys(authorization: str | None = Header(None)):
        """Re-encrypt every record under the first key, while this process keeps serving (administrator)."""
        return {"re_encrypted": service.rotate_keys(who(authorization)), "key": service.keyring.primary_id}

    @router.post("/releases", status_code=201)
    @_guard
    def request_release(body: ReleaseRequest, authorization: str | None = Header(None)):
        release_id = publish.request_release(service, who(authorization), body.kind, body.parameters,
                                             dataset=body.dataset, audience=body.audience)
        return {"release_id": release_id, "status": "pending"}

    @router.get("/releases")
    @_guard
    def list_releases(authorization: str | None = Header(None)):
        return publish.list_releases(service, who(authorization))

    @router.get("/releases/{release_id}")
    @_guard
    def release_info(release_id: str, authorization: str | None = Header(None)):
        return publish.release_info(service, who(authorization), release_id)

    @router.post("/releases/{release_id}/approve")
    @_guard
    def approve(release_id: str, authorization: str | None = Header(None)):
        result = publish.approve_release(service, who(authorization), release_id)
        return {"release_id": release_id, "status": "published", "files": result["files"],
                "epsilon": result["epsilon"]}

    @router.post("/releases/{release_id}/share")
    @_guard
    def share(release_id: str, body: Share, authorization: str | None = Header(None)):
        publish.share_release(service, who(authorization), release_id, body.organisation)
        return {"release_id": release_id, "shared_with": body.organisation}

    @router.get("/releases/{release_id}/files/{name}")
    @_guard
    def release_file(release_id: str, name: str, authorization: str | None = Header(None)):
        path = publish.release_file(service, who(authorization), release_id, name)
        return FileResponse(path, filename=name)

    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    @_guard
    def unknown(rest: str, authorization: str | None = Header(None)):
        """Anything else under the prefix (path traversal, unknown routes): 404, and logged."""
        caller = who(authorization)
        service.audit.record(caller.username, "route:unknown", rest[:200], "denied", {"status": 404})
        raise AccessDenied(404, "no such resource")

    return router


__all__ = ["PREFIX", "cases_router"]
