"""A local stand-in for the Hugging Face Hub: just enough of its HTTP API for uploads and downloads.

A stdlib `ThreadingHTTPServer` on 127.0.0.1 that the real `huggingface_hub` client (and transformers'
`from_pretrained` through it) talks to. It keeps repositories in memory and records every request, so
tests can check what the client sent. Endpoints (see the stack facts notes):

    POST /api/repos/create                         create a repository (409 + url when it exists)
    POST /api/models/{repo}/preupload/{rev}        every file is uploaded inline ("regular")
    POST /api/models/{repo}/commit/{rev}           NDJSON: header line, then base64 file lines
    POST /api/validate-yaml                        model card metadata: always valid
    GET  /api/models/{repo}[/revision/{rev}]       model info with "sha" and "siblings"
    GET  /api/models/{repo}/tree/{rev}[/{path}]    file listing (recursive)
    HEAD/GET /{repo}/resolve/{rev}/{path}          file download with X-Repo-Commit, ETag, Content-Length

Usage::

    with LocalHub() as hub:
        push_student(folder, "me/tiny", token="hf_x", endpoint=hub.url)
        hub.files("me/tiny")  # {path: bytes}
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Repository:
    """A repository: its files at the head of main, and its commit ids (newest last)."""

    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    private: bool = False

    @property
    def sha(self) -> str:
        return self.commits[-1] if self.commits else "0" * 40


class LocalHub:
    """An in-memory Hub on 127.0.0.1 (a free port); a context manager that starts and stops it."""

    def __init__(self, namespace: str = "local-user"):
        self.namespace = namespace
        self.repositories: dict[str, Repository] = {}
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle
    @property
    def url(self) -> str:
        assert self._server is not None, "LocalHub is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalHub:
        hub = self

        class Handler(_HubHandler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ inspection
    def files(self, repo_id: str) -> dict[str, bytes]:
        """The files at the head of a repository."""
        return dict(self.repositories[repo_id].files)

    def received_bytes(self) -> bytes:
        """Every request body received, concatenated (uploaded files arrive base64-encoded inside them)."""
        return b"".join(r.body for r in self.requests)


def _commit_id(repo_id: str, files: dict[str, bytes], parent: str) -> str:
    digest = hashlib.sha1(f"{repo_id}\n{parent}".encode())
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()


class _HubHandler(BaseHTTPRequestHandler):
    hub: LocalHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, body: bytes) -> None:
        with self.hub.lock:
            self.hub.requests.append(RecordedRequest(self.command, self.path, dict(self.headers.items()), body))

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, head: bool = False):
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def _json(self, status: int, payload, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _not_found(self, code: str = "RepoNotFound", message: str = "not found", *, head: bool = False) -> None:
        body = json.dumps({"error": message}).encode()
        self._send(404, body, {"X-Error-Code": code, "X-Error-Message": message}, head=head)

    def _repo(self, repo_id: str) -> Repository | None:
        with self.hub.lock:
            return self.hub.repositories.get(repo_id)

    # ------------------------------------------------------------------ verbs
    def do_POST(self):
        body = self._read_body()
        self._record(body)
        path = unquote(urlsplit(self.path).path)
        if path == "/api/repos/create":
            return self._create_repo(json.loads(body or b"{}"))
        if path == "/api/validate-yaml":
            return self._json(200, {"errors": [], "warnings": []})
        if path.startswith("/api/models/") and "/preupload/" in path:
            repo_id = path[len("/api/models/") :].split("/preupload/")[0]
            if self._repo(repo_id) is None:
                return self._not_found()
            files = json.loads(body)["files"]
            return self._json(
                200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        if path.startswith("/api/models/") and "/commit/" in path:
            repo_id = path[len("/api/models/") :].split("/commit/")[0]
            return self._commit(repo_id, body)
        return self._not_found("EndpointNotFound", f"no such endpoint: POST {path}")

    def do_HEAD(self):
        self._record(b"")
        self._get(head=True)

    def do_GET(self):
        self._record(b"")
        self._get(head=False)

    # ------------------------------------------------------------------ endpoints
    def _create_repo(self, payload: dict) -> None:
        repo_id = f"{payload.get('organization') or self.hub.namespace}/{payload['name']}"
        url = f"{self.hub.url}/{repo_id}"
        with self.hub.lock:
            if repo_id in self.hub.repositories:
                return self._json(409, {"error": "You already created this model repo", "url": url})
            private = payload.get("private") or payload.get("visibility") == "private"
            self.hub.repositories[repo_id] = Repository(private=bool(private))
        self._json(200, {"url": url, "name": repo_id})

    def _commit(self, repo_id: str, body: bytes) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return self._not_found()
        files, deleted = {}, []
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            if item["key"] == "file":
                value = item["value"]
                if value.get("encoding") != "base64":
                    return self._json(400, {"error": f"unsupported encoding {value.get('encoding')!r}"})
                files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "deletedFile":
                deleted.append(item["value"]["path"])
            elif item["key"] == "lfsFile":
                return self._json(400, {"error": "LFS uploads are not supported by the local hub"})
        with self.hub.lock:
            for path in deleted:
                repo.files.pop(path, None)
            repo.files.update(files)
            oid = _commit_id(repo_id, repo.files, repo.sha)
            repo.commits.append(oid)
        self._json(200, {"commitOid": oid, "commitUrl": f"{self.hub.url}/{repo_id}/commit/{oid}"})

    def _get(self, *, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/") :]
            if "/tree/" in rest:
                repo_id, _, tail = rest.partition("/tree/")
                prefix = tail.partition("/")[2]
                return self._tree(repo_id, prefix)
            repo_id = rest.split("/revision/")[0]
            return self._model_info(repo_id)
        if "/resolve/" in path:
            repo_id, _, tail = path.lstrip("/").partition("/resolve/")
            _revision, _, filename = tail.partition("/")
            return self._resolve(repo_id, filename, head=head)
        return self._not_found("EndpointNotFound", f"no such endpoint: GET {path}", head=head)

    def _model_info(self, repo_id: str) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return self._not_found()
        self._json(
            200,
            {
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo.sha,
                "private": repo.private,
                "siblings": [{"rfilename": name} for name in sorted(repo.files)],
            },
        )

    def _tree(self, repo_id: str, prefix: str) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return self._not_found()
        prefix = prefix.strip("/")
        entries, folders = [], set()
        for name in sorted(repo.files):
            if prefix and not name.startswith(prefix + "/"):
                continue
            parts = name.split("/")
            for depth in range(1, len(parts)):
                folders.add("/".join(parts[:depth]))
            content = repo.files[name]
            entries.append(
                {"type": "file", "path": name, "size": len(content), "oid": hashlib.sha1(content).hexdigest()}
            )
        entries += [{"type": "directory", "path": f, "oid": "0" * 40, "size": 0} for f in sorted(folders)]
        self._json(200, entries)

    def _resolve(self, repo_id: str, filename: str, *, head: bool) -> None:
        repo = self._repo(repo_id)
        if repo is None:
            return self._not_found(head=head)
        content = repo.files.get(filename)
        if content is None:
            return self._not_found("EntryNotFound", f"{filename} not found in {repo_id}", head=head)
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": repo.sha,
            "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
            "Content-Length": str(len(content)),
        }
        self._send(200, content, headers, head=head)
