"""schemas/openapi.json is a valid OpenAPI 3.1 document, and says what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from stream.pipeline import web

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
DOC = json.loads((SCHEMAS / "openapi.json").read_text())


def test_the_document_is_valid_openapi_3_1_with_its_references_resolved() -> None:
    spec, base = read_from_filename(str(SCHEMAS / "openapi.json"))
    validate(spec, base_uri=base)  # raises on an invalid document or an unresolvable $ref
    assert spec["openapi"].startswith("3.1")


def test_every_path_the_worker_serves_is_documented() -> None:
    served = set(re.findall(r'@app\.page\("([^"]+)"\)', Path(web.__file__).read_text()))
    served |= {f"/{name}" for name in web.SCHEMA_FILES}  # one page each (web.schema_page)
    assert served == set(DOC["paths"])


def test_every_error_answer_is_a_problem_details_body() -> None:
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if int(status) >= 400 and path != "/health":
                    assert list(response["content"]) == ["application/problem+json"], (path, method, status)
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "problem.schema.json"}


def test_the_served_schemas_are_the_referenced_files() -> None:
    refs = set(re.findall(r'"\$ref": "([^#"][^"]*)"', (SCHEMAS / "openapi.json").read_text()))
    assert refs <= web.SCHEMA_FILES
    assert all((SCHEMAS / name).exists() for name in web.SCHEMA_FILES)
