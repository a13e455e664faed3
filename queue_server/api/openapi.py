"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from queue_server.api import models as m
from queue_server.api.routes import Route
from queue_server.errors import STATUS

REF = "#/components/schemas/{model}"


def build(routes: list[Route], version: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {m.Error}
    for r in routes:
        models.update(x for x in (r.body, r.response) if x is not None)
    ordered = sorted(models, key=lambda x: x.__name__)
    _, defs = models_json_schema(
        [(x, "validation") for x in ordered], ref_template=REF, by_alias=True
    )
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {"summary": r.summary, "operationId": _op_id(r)}
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"{(\w+)}", r.path)
        ]
        if r.auth in ("ticket", "pad"):
            params.append(
                {
                    "name": "X-Ticket-Secret",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "the secret from the issue response (or ?secret=)",
                }
            )
        if r.idempotent:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": "a retry with the same key within 10 minutes returns the "
                    "first answer and changes nothing",
                }
            )
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {
                "required": r.body_required,
                "content": {"application/json": {"schema": _ref(r.body)}},
            }
        if r.auth in ("window", "manager"):
            op["security"] = [{"bearer": []}]
        elif r.auth == "pad":  # the window's rating pad token, or none with the ticket secret
            op["security"] = [{"bearer": []}, {}]
        responses: dict[str, Any] = {
            str(r.status): {
                "description": "OK",
                "content": {"application/json": {"schema": _ref(r.response)}},
            }
            if r.response
            else {"description": "OK"},
        }
        for status in sorted(set(STATUS.values())):
            responses[str(status)] = {
                "description": ", ".join(c for c, s in STATUS.items() if s == status),
                "content": {"application/json": {"schema": _ref(m.Error)}},
            }
        op["responses"] = responses
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "hallcall queue server", "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a window's or manager's token",
                }
            },
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _op_id(r: Route) -> str:
    words = re.sub(r"[{}]", "", r.path.removeprefix("/api/v1/")).replace("/", "_")
    return f"{r.method.lower()}_{words}"
