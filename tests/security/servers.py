"""What the sign-in attacker tests run against: the dashboard under gunicorn (started by the tests on
loopback, with ``--no-control-socket``), HTTP clients that each come from their own loopback address,
and a local OpenID Connect provider (oidc-provider-mock's server, in its own process)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
START_TIMEOUT = 90.0

#: Written next to the ready markers; gunicorn runs it as its config file.
_HOOKS = '''
import os
from pathlib import Path


def post_worker_init(worker):
    """The worker has imported dashboard.wsgi (app built): mark it ready."""
    Path(os.environ["ROSC_TEST_READY_DIR"], f"worker-{os.getpid()}").touch()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gunicorn:
    """A running gunicorn: its base URL and error log (where the dashboard's access log goes)."""

    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float = 5.0) -> list[str]:
        """The log lines matching ``pattern`` (a regex), waiting a little for the worker to flush."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.log_text().splitlines() if re.search(pattern, line)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def gunicorn_command(port: int, workers: int, scratch: Path) -> list[str]:
    config = scratch / "gunicorn_hooks.py"
    config.write_text(_HOOKS, encoding="utf-8")
    return [
        str(GUNICORN),
        "--no-control-socket",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "-c",
        str(config),
        "--timeout",
        "60",
        "--log-level",
        "info",
        "--error-logfile",
        str(scratch / "gunicorn.log"),
        "dashboard.wsgi:server",
    ]


def server_environment(settings: dict[str, str], scratch: Path) -> dict[str, str]:
    """The environment of a test gunicorn: this one without any ROSC_ setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSC_")}
    env.update({"ROSC_WARM": "0", "ROSC_TEST_READY_DIR": str(scratch / "ready"), "PYTHONUNBUFFERED": "1"})
    env.update(settings)
    return env


@contextmanager
def gunicorn(settings: dict[str, str], scratch: Path, workers: int = 2) -> Iterator[Gunicorn]:
    """Serve the dashboard with ``settings`` (ROSC_DB and the sign-in settings) until the block ends."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "ready").mkdir(exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        gunicorn_command(port, workers, scratch),
        cwd=ROOT,
        env=server_environment(settings, scratch),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Gunicorn(f"http://127.0.0.1:{port}", process, scratch / "gunicorn.log")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while len(list((scratch / "ready").iterdir())) < workers:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{server.log_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def refused_start(settings: dict[str, str], scratch: Path) -> str:
    """Start gunicorn with settings the app must refuse; return its log once it has given up."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "ready").mkdir(exist_ok=True)
    process = subprocess.run(
        gunicorn_command(free_port(), 1, scratch),
        cwd=ROOT,
        env=server_environment(settings, scratch),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=START_TIMEOUT,
        check=False,
    )
    log = (scratch / "gunicorn.log").read_text(encoding="utf-8", errors="replace")
    assert process.returncode != 0, log[-2000:]
    assert not list((scratch / "ready").iterdir()), "a worker started"
    return log


class _FromAddress(HTTPAdapter):
    """Connections from one loopback source address (the whole 127.0.0.0/8 is this machine)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address: str = "127.0.0.1") -> requests.Session:
    """An HTTP client (its own cookies) whose connections to the dashboard come from ``address``."""
    session = requests.Session()
    session.mount("http://127.0.0.1", _FromAddress(address))
    return session


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


def sign_in(
    session: requests.Session, base: str, username: str, password: str, next_: str = ""
) -> requests.Response:
    """Post the sign-in form as a browser would (the form's CSRF token first); no redirect followed."""
    query = f"?next={next_}" if next_ else ""
    token = csrf_of(session.get(f"{base}/login{query}", timeout=30).text)
    return session.post(
        f"{base}/login{query}",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )


#: The provider's own loopback address: not the dashboard's, so the two never share cookies.
OIDC_HOST = "127.0.0.2"


@contextmanager
def oidc_provider() -> Iterator[str]:
    """A local OpenID Connect provider (oidc-provider-mock's server, in its own process, requiring a
    nonce); yields its issuer URL.

    Its users are set with ``PUT {issuer}/users/<sub>`` (their claims). Any claim given there goes into
    the ID token as it is, after the standard ones: so a user whose claims hold ``exp`` in the past or
    another ``aud`` gets a properly signed token that is expired or meant for another client."""
    port = free_port()
    issuer = f"http://{OIDC_HOST}:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oidc_provider_mock",
            "--host",
            OIDC_HOST,
            "--port",
            str(port),
            "--require-nonce",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"oidc-provider-mock exited with {process.returncode}")
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("oidc-provider-mock did not start")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def oidc_sign_in(
    session: requests.Session, base: str, issuer: str, sub: str, next_: str = ""
) -> requests.Response:
    """Sign in through the provider as a person would: the dashboard's sign-in link, the provider's form
    (choose the subject ``sub``), back to the dashboard. Returns the dashboard callback's answer."""
    query = f"?next={next_}" if next_ else ""
    start = session.get(f"{base}/login/oidc{query}", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.text[:500]
    authorize = start.headers["Location"]
    assert authorize.startswith(issuer), authorize
    form = session.get(authorize, timeout=30)
    assert form.status_code == 200, form.text[:500]
    answer = session.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    back = answer.headers["Location"]
    assert back.startswith(base + "/login/oidc/callback"), back
    return session.get(back, allow_redirects=False, timeout=30)


def set_oidc_user(issuer: str, sub: str, claims: dict[str, Any]) -> None:
    response = requests.put(f"{issuer}/users/{sub}", json=claims, timeout=10)
    assert response.status_code == 204, response.text
