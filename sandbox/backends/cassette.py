"""Record a real backend's completions once, then replay them offline.

Each recording is one small JSON file, `<key>.json`, where the key is the sha256 of
the request. Only completions are recorded: a failed call leaves no file, so a later
replay of that prompt is a plain miss rather than a frozen error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from sandbox.backends.base import Backend, BackendError, Completion, CompletionRequest

Mode = Literal["record", "replay"]


def request_fields(backend: str, request: CompletionRequest) -> dict[str, Any]:
    """Return everything that shapes the reply to a request, as JSON-safe values."""
    return {
        "backend": backend,
        "model": request.model,
        # 0 and 0.0 must give the same key.
        "temperature": float(request.temperature),
        "max_tokens": request.max_tokens,
        "stop": list(request.stop),
        "system": request.system,
        "messages": [dict(m) for m in request.messages],
    }


def cassette_key(backend: str, request: CompletionRequest) -> str:
    """Return the sha256 of the canonical JSON of the request's fields."""
    canonical = json.dumps(
        request_fields(backend, request),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class CassetteBackend(Backend):
    label = "Recorded replies"

    def __init__(self, inner: Backend | None, folder: Path, mode: Mode, backend: str = "") -> None:
        """`backend` names the recorded backend in the key; pass the same name to replay."""
        if mode not in ("record", "replay"):
            raise ValueError(f"mode must be 'record' or 'replay', not {mode!r}")
        if mode == "record" and inner is None:
            raise ValueError("recording needs a backend to record")
        self.inner = inner
        self.folder = Path(folder)
        self.mode = mode
        self.backend = backend

    def path(self, request: CompletionRequest) -> Path:
        return self.folder / f"{cassette_key(self.backend, request)}.json"

    def complete(self, request: CompletionRequest) -> Completion:
        if self.mode == "replay":
            return self.replay(request)
        assert self.inner is not None
        completion = self.inner.complete(request)
        self.record(request, completion)
        return completion

    def replay(self, request: CompletionRequest) -> Completion:
        path = self.path(request)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Completion(
                text=data["text"],
                input_tokens=data["input_tokens"],
                output_tokens=data["output_tokens"],
                cached_tokens=data.get("cached_tokens", 0),
                reasoning_tokens=data.get("reasoning_tokens", 0),
                model=data["model"],
                extra={"cassette": path.stem},
            )
        except FileNotFoundError:
            raise BackendError(
                "This prompt has no recording; offline replay can only answer recorded prompts.",
                permanent=True,
                code="not_found",
            ) from None
        except (ValueError, KeyError, TypeError):
            raise BackendError(
                "The recording for this prompt is damaged; record it again.",
                permanent=True,
                code="config",
            ) from None

    def record(self, request: CompletionRequest, completion: Completion) -> None:
        data: dict[str, Any] = {
            "text": completion.text,
            "input_tokens": completion.input_tokens,
            "output_tokens": completion.output_tokens,
            "cached_tokens": completion.cached_tokens,
            "reasoning_tokens": completion.reasoning_tokens,
            "model": completion.model,
            # Not read back; lets a reviewer see which prompt a file answers.
            "request": request_fields(self.backend, request),
        }
        path = self.path(request)
        self.folder.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
