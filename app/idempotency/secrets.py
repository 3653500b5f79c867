"""Answers that carry a secret shown once (an API key, a calendar token, a webhook signing secret).

A route marks its answer with `dependencies=[shown_once(...)]`: the mark lands in the request's state,
where the Idempotency-Key middleware reads it (and removes it) once the answer is sent. The answer
goes to the caller unchanged; the copy kept for a retry is redacted: the named fields are replaced by
null, the named headers are not kept, and a French `notice` says that the secret was shown once and
how to get another. So no secret is stored at rest in the idempotency records, and none is replayed.

Nothing here matches paths: a new secret-bearing route only has to carry the mark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

STATE_KEY = "regieflow_shown_once"

NOTICE = "notice"


@dataclass(frozen=True)
class ShownOnce:
    fields: tuple[str, ...]  # top-level members of the JSON answer that hold the secret
    headers: tuple[str, ...]  # response headers that carry it too (lower case), e.g. a Location with a token
    advice: str  # in French: how to get another secret

    def notice(self) -> str:
        names = ", ".join(f"« {f} »" for f in self.fields)
        return (
            f"Réponse rejouée (clé d'idempotence déjà utilisée) : le secret ({names}) n'est montré qu'une "
            f"fois, dans la réponse d'origine, et il n'est conservé nulle part. {self.advice}"
        )

    def redact(self, body: bytes) -> str:
        """The answer to keep for a retry: the secret members null, a notice added (an answer that is not
        a JSON object is not kept at all, only the notice)."""
        try:
            answer: Any = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        for name in self.fields:
            if name in answer:
                answer[name] = None
        answer[NOTICE] = self.notice()
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


def shown_once(*fields: str, advice: str, headers: tuple[str, ...] = ()) -> Any:
    """A route dependency marking its answer as secret-bearing (see the module's docstring)."""
    mark = ShownOnce(tuple(fields), tuple(h.lower() for h in headers), advice)

    def mark_answer(request: Request) -> None:
        setattr(request.state, STATE_KEY, mark)

    return Depends(mark_answer)


def take_mark(state: dict[str, Any]) -> ShownOnce | None:
    """The mark a route left in the request's state (removed: it is for the middleware only)."""
    found = state.pop(STATE_KEY, None)
    return found if isinstance(found, ShownOnce) else None
