"""An HTTP client of the relayflow API, for the CLI's subcommands.

Loopback URLs (``relayflow serve``) are called as they are; any other URL is a
deployed API Gateway API with IAM auth, so requests are signed with SigV4
(service ``execute-api``) using the default AWS credential chain.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .core.errors import RelayflowError

DEFAULT_API = "http://127.0.0.1:8080"


class ApiError(RelayflowError):
    """The API answered with an error status (or could not be reached: status 0).

    ``retryable`` tells a caller whether the same request may succeed later."""

    def __init__(self, status: int, body: Any, url: str):
        self.status, self.body, self.url = status, body, url
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"{status}: {message}" if status else str(message))

    @property
    def retryable(self) -> bool:
        """Unreachable, throttled (429) or failing on the server's side (5xx)."""
        return self.status == 0 or self.status == 429 or self.status >= 500

    @property
    def details(self) -> list[Any]:
        details = self.body.get("details") if isinstance(self.body, dict) else None
        if isinstance(details, list):
            return details
        return [] if details is None else [details]


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _region_of(url: str) -> str | None:
    m = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", urlsplit(url).hostname or "")
    return m.group(1) if m else None


def seg(value: str) -> str:
    """One path segment, percent-encoded."""
    return quote(value, safe="")


class Client:
    def __init__(self, base_url: str | None = None, region: str | None = None, timeout: float = 30.0):
        self.base = (base_url or os.environ.get("RELAYFLOW_API") or DEFAULT_API).rstrip("/")
        self.timeout = timeout
        self.sign = not is_loopback(self.base)
        self.region = region or _region_of(self.base) or os.environ.get("AWS_REGION") \
            or os.environ.get("AWS_DEFAULT_REGION")
        self._credentials: Any = None

    def _signed_headers(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        import botocore.session
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if self._credentials is None:
            session = botocore.session.Session()
            self._credentials = session.get_credentials()
            self.region = self.region or session.get_config_variable("region")
        if self._credentials is None:
            raise ApiError(0, "no AWS credentials found to sign the request (the API uses IAM auth)", url)
        if not self.region:
            raise ApiError(0, "cannot tell the API's region: pass --region or set AWS_REGION", url)
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        """Send one request; return (status, decoded JSON). Raises ApiError for 4xx/5xx or no answer."""
        url = self.base + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urlencode(params)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Accept": "application/json", **(headers or {})}
        if (data is not None and raw is None) or (data is None and method not in ("GET", "HEAD")):
            # `relayflow serve` refuses a state-changing request that is not JSON or YAML (a web page
            # cannot send one without a CORS preflight it would not pass).
            hdrs["Content-Type"] = "application/json"
        token = os.environ.get("RELAYFLOW_TOKEN")
        if token and not self.sign:
            hdrs["Authorization"] = f"Bearer {token}"
        if self.sign:
            hdrs = self._signed_headers(method, url, data, hdrs)
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - http(s) URLs only
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, _decode(exc.read()), url) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(0, f"cannot reach the API at {self.base}: {reason}", url) from None

    # -- operations ---------------------------------------------------------------------
    def start(self, workflow: str, input: Any = None, idempotency_key: str | None = None,
              version: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if input is not None:
            body["input"] = input
        if version is not None:
            body["version"] = version
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", f"/workflows/{seg(workflow)}/executions", body, headers=headers)[1]

    def describe(self, execution_id: str) -> dict[str, Any]:
        return self.request("GET", f"/executions/{seg(execution_id)}")[1]

    def cost(self, execution_id: str) -> dict[str, Any]:
        """The execution with its ``cost`` (AWS requests by service and an estimate in dollars)."""
        return self.request("GET", f"/executions/{seg(execution_id)}", query={"include": "cost"})[1]

    def graph(self, execution_id: str) -> dict[str, Any]:
        return self.request("GET", f"/executions/{seg(execution_id)}/graph")[1]

    def run_detail(self, execution_id: str, task: str, run: int, offset: int | None = None,
                   limit: int | None = None, status: str | None = None) -> dict[str, Any]:
        """One task run with a page of its items (``status``: only those in it)."""
        query = {"offset": offset, "limit": limit, "status": status}
        return self.request("GET", f"/executions/{seg(execution_id)}/runs/{seg(task)}/{int(run)}", query=query)[1]

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/executions/{seg(execution_id)}/history")[1]["events"]

    def control(self, execution_id: str, action: str, reason: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} if reason else None
        return self.request("POST", f"/executions/{seg(execution_id)}/{action}", body)[1]

    def executions(self, workflow: str | None = None, status: str | None = None, limit: int | None = None,
                   next_token: str | None = None) -> dict[str, Any]:
        query = {"workflow": workflow, "status": status, "limit": limit, "next": next_token}
        return self.request("GET", "/executions", query=query)[1]

    def register(self, text: str, name: str) -> dict[str, Any]:
        return self.request("PUT", f"/workflows/{seg(name)}", raw=text.encode("utf-8"),
                            headers={"Content-Type": "application/yaml"})[1]

    def inquiry(self, inquiry_id: str) -> dict[str, Any]:
        return self.request("GET", f"/inquiries/{seg(inquiry_id)}")[1]

    def inquiries(self, status: str | None = None) -> list[dict[str, Any]]:
        return self.request("GET", "/inquiries", query={"status": status})[1]["inquiries"]

    def respond(self, inquiry_id: str, response: Any) -> dict[str, Any]:
        return self.request("POST", f"/inquiries/{seg(inquiry_id)}/respond", {"response": response})[1]


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8")) if data else None
    except (UnicodeDecodeError, ValueError):
        return data.decode("utf-8", "replace")
