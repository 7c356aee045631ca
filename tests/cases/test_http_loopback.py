"""The router served by a real uvicorn on the loopback interface."""

import socket
import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI

from imdx.cases.routes import PREFIX, cases_router

from .conftest import PASSWORDS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_router_over_real_http(service):
    app = FastAPI()
    app.include_router(cases_router(service))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}{PREFIX}"
        assert httpx.get(f"{base}/records").status_code == 401
        token = httpx.post(f"{base}/token", json={"username": "fo_a", "password": PASSWORDS["fo_a"]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        created = httpx.post(f"{base}/records", headers=headers, json={"data_source": "hotline", "gender": "Man"})
        assert created.status_code == 201
        case_id = created.json()["case_id"]
        assert httpx.get(f"{base}/records/{case_id}", headers=headers).json()["gender"] == "Man"
        other = httpx.post(f"{base}/token", json={"username": "fo_b", "password": PASSWORDS["fo_b"]}).json()
        denied = httpx.get(f"{base}/records/{case_id}", headers={"Authorization": f"Bearer {other['access_token']}"})
        assert denied.status_code == 404
        raw = httpx.get(f"{base}/records/%2e%2e%2f%2e%2e%2fusers", headers=headers)
        assert raw.status_code == 404
    finally:
        server.should_exit = True
        thread.join(timeout=10)
