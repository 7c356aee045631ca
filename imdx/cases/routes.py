"""HTTP routes under ``/api/v1/cases``: a FastAPI ``APIRouter`` built by :func:`cases_router`, which
``imdx serve`` mounts when a case database is configured (``imdx.api.app.create_app(..., cases=service)``).

Every route resolves the caller from ``Authorization: Bearer <token>`` (none: the public) and the
client's address, and calls the service, whose every method goes through the one authorisation
function. Bodies are JSON objects of at most ``IMDX_CASES_MAX_BODY_KIB``; the service's work runs in
the thread pool. Errors have the API's one envelope::

    {"error": {"status": 404, "type": "access-denied", "message": "...", "parameter": null}}

401 (no valid token), 403 (the role may never), 404 (absent, or not the caller's organisation's),
409 (budget exceeded, preview out of date), 413 (body too large), 422 (record not accepted,
idempotency key reused), 429 (sign-in throttled; ``Retry-After``), 503 (busy; ``Retry-After``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from imdx.cases.access import Principal
from imdx.cases.errors import (
    AccessDenied,
    BudgetExceeded,
    CaseConfigError,
    CaseError,
    DecryptionError,
    ReleaseError,
)
from imdx.cases.idempotency import IdempotencyError
from imdx.cases.releases import publish
from imdx.cases.service import CaseService
from imdx.cases.serving import served
from imdx.cases.throttle import Busy, Throttled
from imdx.cases.values import jsonable, plain

PREFIX = "/api/v1/cases"
MAX_FIELDS = 200
log = logging.getLogger("imdx.cases")
_NO_STORE = {"Cache-Control": "no-store"}


class BadRequest(CaseError):
    def __init__(self, status: int, type_: str, message: str, parameter: str | None = None):
        super().__init__(message)
        self.status, self.type, self.parameter = status, type_, parameter


def error(status: int, type_: str, message: str, parameter: str | None = None,
          headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "type": type_, "message": message, "parameter": parameter}},
                        status_code=status, headers={**_NO_STORE, **(headers or {})})


def _error_of(err: CaseError) -> JSONResponse:
    if isinstance(err, (Throttled, Busy)):
        kind = "too-many-requests" if isinstance(err, Throttled) else "busy"
        return error(err.status, kind, str(err), headers={"Retry-After": str(err.retry_after)})
    if isinstance(err, AccessDenied):
        return error(err.status, "access-denied", str(err),
                     headers={"WWW-Authenticate": "Bearer"} if err.status == 401 else None)
    if isinstance(err, BadRequest):
        return error(err.status, err.type, str(err), err.parameter)
    if isinstance(err, publish.PreviewMismatch):
        return error(409, "preview-mismatch", str(err), "confirm")
    if isinstance(err, BudgetExceeded):
        return error(409, "budget-exceeded", str(err), "epsilon")
    if isinstance(err, IdempotencyError):
        return error(422, "idempotency-key", str(err), "Idempotency-Key")
    if isinstance(err, (CaseConfigError, DecryptionError)):
        log.error("case database: %s", err)
        return error(503, "configuration-error", "the case database is not configured correctly; the administrator "
                                                 "has been told in the server's log")
    if isinstance(err, ReleaseError):
        return error(400, "invalid-release", str(err))
    return error(400, "invalid-request", str(err))


def _address(request: Request) -> str:
    """The client's address for throttling: IPv4 as it is, IPv6 by its /64 (what one subscriber gets).
    Behind a reverse proxy every client has the proxy's address (``X-Forwarded-For`` is not trusted)."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


async def _body(request: Request, limit: int) -> dict:
    """The request's JSON object, read up to ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, "too-large", f"the body is larger than {limit // 1024} KiB (IMDX_CASES_MAX_BODY_KIB)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, "too-large", f"the body is larger than {limit // 1024} KiB (IMDX_CASES_MAX_BODY_KIB)")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except (ValueError, RecursionError):
        raise BadRequest(400, "invalid-body", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "invalid-body", "the body must be a JSON object")
    return body


def _field(body: dict, name: str, kind: type = str, required: bool = True):
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        expected = {str: "text", dict: "an object", list: "a list"}.get(kind, kind.__name__)
        raise BadRequest(400, "invalid-parameter", f"{name} must be {expected}", name)
    return value


def _records(frame) -> list[dict]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def cases_router(service: CaseService) -> APIRouter:
    """The ``/api/v1/cases`` routes bound to one :class:`CaseService`."""
    router = APIRouter(prefix=PREFIX, tags=["cases"], lifespan=lambda app: served(service))
    limit = service.settings.max_body_kib * 1024
    # sign-ins wait for a hashing slot here, without holding one of the server's threads meanwhile
    sign_in_slots = anyio.CapacityLimiter(service.settings.hash_concurrency)

    def who(request: Request) -> Principal:
        authorization = request.headers.get("authorization")
        if authorization is None:
            return service.principal(None, _address(request))
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AccessDenied(401, "send the token as 'Authorization: Bearer <token>'")
        return service.principal(token.strip(), _address(request))

    async def run(fn: Callable, *args, status: int = 200):
        """``fn(*args)`` in the thread pool, its answer as JSON (``Response`` objects as they are)."""
        try:
            answer = await run_in_threadpool(fn, *args)
            if isinstance(answer, Response):
                return answer
            return JSONResponse(jsonable(answer), status_code=status, headers=_NO_STORE)
        except CaseError as err:
            return _error_of(err)
        except Exception:  # a bug: logged, answered in the envelope
            log.exception("case API failed")
            return error(500, "internal-error", "the server failed on this request; it has been logged")

    async def with_body(request: Request, fn: Callable, status: int = 200):
        try:
            body = await _body(request, limit)
        except CaseError as err:
            return _error_of(err)
        return await run(fn, body, status=status)

    # -- sessions ------------------------------------------------------------------------------------
    @router.post("/token")
    async def token(request: Request):
        """Sign in with ``{"username", "password"}``: an access token and a refresh token."""
        try:
            body = await _body(request, limit)
            with anyio.fail_after(service.settings.hash_wait_seconds):
                await sign_in_slots.acquire()
        except CaseError as err:
            return _error_of(err)
        except TimeoutError:
            return _error_of(Busy())
        try:
            return await run(lambda: service.login(_field(body, "username"), _field(body, "password"),
                                                   _address(request)).answer())
        finally:
            sign_in_slots.release()

    @router.post("/token/refresh")
    async def refresh(request: Request):
        """A new token pair for ``{"refresh_token"}``, without the password (each refresh token works once)."""
        return await with_body(request, lambda b: service.refresh(_field(b, "refresh_token"),
                                                                  _address(request)).answer())

    @router.post("/token/revoke")
    async def revoke(request: Request):
        """End the session of the bearer token (sign out)."""
        def act():
            if not who(request).is_authenticated:
                raise AccessDenied(401, "send the token to revoke as 'Authorization: Bearer <token>'")
            service.logout(request.headers["authorization"].partition(" ")[2].strip())
            return {"revoked": True}
        return await run(act)

    # -- cases ---------------------------------------------------------------------------------------
    @router.post("/records", status_code=201)
    async def create_record(request: Request):
        """Submit one record (field officer). Send an ``Idempotency-Key`` header to make retries safe."""
        key = request.headers.get("idempotency-key")

        def act(body):
            if len(body) > MAX_FIELDS or not all(v is None or isinstance(v, (str, int, float)) for v in body.values()):
                raise BadRequest(400, "invalid-body", f"a record is an object of at most {MAX_FIELDS} fields, each "
                                                      "text, a number or null")
            status, answer, replayed = service.submit_record(who(request), body, key)
            headers = {**_NO_STORE, **({"Idempotent-Replayed": "true"} if replayed else {})}
            return Response(answer, status_code=status, media_type="application/json", headers=headers)
        return await with_body(request, act)

    @router.get("/records")
    async def list_records(request: Request):
        return await run(lambda: _records(service.list_cases(who(request))))

    @router.get("/records/{case_id}")
    async def read_record(case_id: str, request: Request):
        return await run(lambda: service.read_case(who(request), case_id))

    @router.get("/deidentified")
    async def deidentified(request: Request):
        return await run(lambda: _records(service.deidentified(who(request))))

    @router.get("/completeness")
    async def completeness(request: Request):
        return await run(lambda: _records(service.completeness(who(request))))

    # -- dataset policies ----------------------------------------------------------------------------
    @router.get("/datasets/{dataset}/policy")
    async def read_policy(dataset: str, request: Request):
        return await run(lambda: service.get_policy(who(request), dataset).as_dict())

    @router.patch("/datasets/{dataset}/policy")
    async def set_policy(dataset: str, request: Request):
        """Change fields of the dataset's release policy (its DPO); audited with old and new values."""
        return await with_body(request, lambda b: service.set_policy(who(request), b, dataset).as_dict())

    # -- users and keys ------------------------------------------------------------------------------
    @router.post("/users", status_code=201)
    async def create_user(request: Request):
        def act(b):
            service.add_user(who(request), _field(b, "username"), _field(b, "password"), _field(b, "organisation"),
                             _field(b, "role"))
            return {"username": b["username"], "role": b["role"], "organisation": b["organisation"]}
        return await with_body(request, act, status=201)

    @router.post("/users/{username}/deactivate")
    async def deactivate_user(username: str, request: Request):
        """End every session of the user and refuse them from now on (administrator)."""
        def act():
            service.set_active(who(request), username, False)
            return {"username": username, "active": False}
        return await run(act)

    @router.post("/users/{username}/activate")
    async def activate_user(username: str, request: Request):
        """Let a deactivated or locked-out user sign in again (administrator)."""
        def act():
            service.set_active(who(request), username, True)
            return {"username": username, "active": True}
        return await run(act)

    @router.post("/users/{username}/revoke-tokens")
    async def revoke_user_tokens(username: str, request: Request):
        """End every session of the user (administrator)."""
        return await run(lambda: {"username": username, "revoked": service.revoke_tokens(who(request), username)})

    @router.get("/audit/verify")
    async def verify_audit(request: Request):
        def act():
            report, head = service.verify_audit(who(request))
            return {"intact": report.count("error") == 0, "head": {"seq": head[0], "hash": head[1]},
                    "issues": [jsonable(vars(i)) for i in report]}
        return await run(act)

    @router.post("/keys/rotate")
    async def rotate_keys(request: Request):
        """Re-encrypt every record and release secret under the first key, while serving (administrator)."""
        return await run(lambda: {"re_encrypted": service.rotate_keys(who(request)),
                                  "key": service.keyring.primary_id})

    # -- releases ------------------------------------------------------------------------------------
    @router.post("/releases", status_code=201)
    async def request_release(request: Request):
        def act(b):
            release_id = publish.request_release(
                service, who(request), _field(b, "kind"), _field(b, "parameters", dict, required=False) or {},
                dataset=_field(b, "dataset", required=False), audience=_field(b, "audience", required=False)
                or "public")
            return {"release_id": release_id, "status": "pending"}
        return await with_body(request, act, status=201)

    @router.get("/releases")
    async def list_releases(request: Request):
        return await run(lambda: publish.list_releases(service, who(request)))

    @router.get("/releases/{release_id}")
    async def release_info(release_id: str, request: Request):
        return await run(lambda: publish.release_info(service, who(request), release_id))

    @router.get("/releases/{release_id}/preview")
    async def preview(release_id: str, request: Request):
        """Exactly what approving would publish (the owning DPO), with the ``preview_digest`` to approve it."""
        return await run(lambda: publish.preview_release(service, who(request), release_id))

    @router.post("/releases/{release_id}/approve")
    async def approve(release_id: str, request: Request):
        """Publish the release as previewed: body ``{"confirm": "<preview_digest>"}`` (the owning DPO)."""
        def act(b):
            caller = who(request)
            confirm = _field(b, "confirm", required=False)
            if confirm is None:
                publish.approvable(service, caller, release_id)
                raise BadRequest(400, "preview-first", f"preview first (GET {PREFIX}/releases/{release_id}/preview) "
                                                       "and send its preview_digest as confirm", "confirm")
            return publish.approve_release(service, caller, release_id, confirm)
        return await with_body(request, act)

    @router.post("/releases/{release_id}/reproduce")
    async def reproduce(release_id: str, request: Request):
        """Run a published release again with its sealed secret (the owning DPO): are the files identical?"""
        return await run(lambda: {"release_id": release_id,
                                  "identical": publish.reproduce_release(service, who(request), release_id)})

    @router.post("/releases/{release_id}/share")
    async def share(release_id: str, request: Request):
        def act(b):
            organisation = _field(b, "organisation")
            publish.share_release(service, who(request), release_id, organisation)
            return {"release_id": release_id, "shared_with": organisation}
        return await with_body(request, act)

    @router.delete("/releases/{release_id}/share/{organisation}")
    async def unshare(release_id: str, organisation: str, request: Request):
        def act():
            publish.share_release(service, who(request), release_id, organisation, grant=False)
            return {"release_id": release_id, "no_longer_shared_with": organisation}
        return await run(act)

    @router.get("/releases/{release_id}/files/{name}")
    async def release_file(release_id: str, name: str, request: Request):
        return await run(lambda: FileResponse(publish.release_file(service, who(request), release_id, name),
                                              filename=name, headers=_NO_STORE))

    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown(rest: str, request: Request):
        """Anything else under the prefix (path traversal, unknown routes): 404, and logged."""
        return await run(lambda: service.refuse(who(request), "route:unknown", rest, 404, "no such resource"))

    return router


__all__ = ["PREFIX", "cases_router"]
