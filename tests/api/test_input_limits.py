"""Input no field may hold is refused at the door with a 400 naming the field, never a 500:
JSON nested past 64 levels, NUL (and lone surrogates) in text, integers past signed 64 bits."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from annotation.models import Comparison, Judgment, Project
from rankwise.inputs import INT_MAX, INT_MIN, MAX_DEPTH, json_problems, text_problems
from tests.factories import SnapshotFactory, make_comparison

pytestmark = pytest.mark.django_db

NUL_REASON = "contains a NUL character"


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _refused(response, field: str | None, reason: str) -> None:
    """A 400 in the API's error shape whose details name `field` with `reason` (a prefix of it)."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert any(d["field"] == field and d["reason"].startswith(reason) for d in body["details"]), body


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth - 1):
        value = [value]
    return [value] if depth else value


# The limits themselves, on plain data.


def test_nesting_up_to_the_limit_passes_and_one_level_more_names_the_top_level_field() -> None:
    assert json_problems({"a": _nested(MAX_DEPTH - 1)}) == []
    assert json_problems({"a": _nested(MAX_DEPTH)}) == [
        {"field": "a", "reason": f"nested deeper than {MAX_DEPTH} levels"}
    ]


def test_problems_name_the_path_of_each_bad_value_in_document_order() -> None:
    data = {"lora": {"target_modules": ["q", "k\x00"]}, "seed": INT_MAX + 1, "low": INT_MIN, "ok": True}
    assert json_problems(data) == [
        {"field": "lora.target_modules[1]", "reason": NUL_REASON},
        {"field": "seed", "reason": f"an integer outside {INT_MIN}…{INT_MAX}"},
    ]
    assert json_problems({"a": {"k\x00": 1}, "b": "\ud800", "c": float("inf")}) == [
        {"field": "a", "reason": f"key 'k\\x00' {NUL_REASON}"},
        {"field": "b", "reason": "contains a lone surrogate (not valid Unicode)"},
        {"field": "c", "reason": "a number too large to hold"},
    ]


def test_whole_numbers_as_text_are_held_to_64_bits_as_drf_reads_them() -> None:
    fits = [str(INT_MAX), str(INT_MIN), " 42 ", "7.0", "0" * 30 + "1", "1e30", "12 monkeys", ""]
    assert text_problems([("n", text) for text in fits], numerals=True) == []
    past = [str(INT_MAX + 1), str(INT_MIN - 1), "18446744073709551616.0", "9" * 5000]
    assert [p["field"] for p in text_problems([(t, t) for t in past], numerals=True)] == past
    assert text_problems([("n", str(INT_MAX + 1))]) == [], "numerals are checked only where asked"


# Nesting.


def test_json_nested_thousands_deep_is_a_400_not_a_recursion_error(bob, project: Project) -> None:
    make_comparison(project=project)
    body = "[" * 5000 + "]" * 5000
    response = _api(bob).post("/api/projects/project-a/submit/", body, content_type="application/json")
    _refused(response, None, "nested deeper than 64 levels")


def test_json_nested_past_the_limit_inside_a_field_names_that_field(alice, bob) -> None:
    body = {"attributes": {"lang": _nested(MAX_DEPTH)}}
    _refused(
        _api(alice).patch("/api/projects/project-a/members/bob/", body, format="json"), "attributes", "nested"
    )


def test_json_text_of_a_form_field_nested_thousands_deep_names_the_field(bob, project: Project) -> None:
    """A form field's JSON text is parsed by the serializer field, not by the body parser."""
    make_comparison(project=project)
    form = {"assignment": 1, "ordering": "[" * 5000 + "]" * 5000, "submission_token": "t"}
    _refused(_api(bob).post("/api/projects/project-a/submit/", form), "ordering", "nested deeper than 64")


# NUL in query parameters, the path and cookies.


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("runs/?status=%00", "status"),
        ("runs/?method=%00", "method"),
        ("audit/?action=%00", "action"),
        ("demonstrations/?annotator=%00", "annotator"),
    ],
)
def test_nul_in_a_query_filter_is_refused_naming_the_parameter(alice, query: str, parameter: str) -> None:
    _refused(_api(alice).get(f"/api/projects/project-a/{query}"), parameter, NUL_REASON)


def test_nul_in_the_path_is_refused(alice) -> None:
    _refused(_api(alice).get("/api/projects/project-a/members/b%00b/"), "path", NUL_REASON)


def test_a_session_cookie_holding_nul_is_refused_before_the_session_store_reads_it(db: None) -> None:
    client = Client()
    client.cookies["sessionid"] = "\x00abcdefghijkl"
    _refused(client.get("/api/projects/"), "cookie sessionid", NUL_REASON)
    page = client.get("/")
    assert page.status_code == 400 and b"cookie sessionid" in page.content


def test_pages_refuse_nul_in_a_query_filter(alice) -> None:
    page = _web(alice).get("/projects/project-a/runs/?status=%00")
    assert page.status_code == 400 and b"NUL" in page.content


def test_pages_refuse_nul_in_a_form_field(alice, bob, charlie, project: Project) -> None:
    comparison = make_comparison(project=project)
    first, second = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
    for annotator, ordering in ((bob, [[first], [second]]), (charlie, [[second], [first]])):
        Judgment.objects.create(
            comparison=comparison, annotator=annotator, ordering=ordering, submission_token=uuid.uuid4().hex
        )
    Comparison.objects.filter(pk=comparison.pk).update(judgment_count=2)
    page = _web(alice).post(
        f"/projects/project-a/review/{comparison.pk}/", {"decision": "accept", "note": "fine\x00"}
    )
    assert page.status_code == 400 and b"note" in page.content


# NUL in bodies.


def test_nul_in_a_member_attribute_is_refused_naming_the_attribute(alice, bob) -> None:
    client = _api(alice)
    patch = client.patch(
        "/api/projects/project-a/members/bob/", {"attributes": {"lang": "d\x00e"}}, format="json"
    )
    _refused(patch, "attributes.lang", NUL_REASON)
    add = {"username": "bob", "role": "annotator", "attributes": {"lang": "de\x00"}}
    _refused(
        client.post("/api/projects/project-a/members/", add, format="json"), "attributes.lang", NUL_REASON
    )
    form = client.patch(
        "/api/projects/project-a/members/bob/",
        "role=admin%00",
        content_type="application/x-www-form-urlencoded",
    )
    _refused(form, "role", NUL_REASON)


def test_nul_in_lora_target_modules_of_a_run_launch_is_refused_naming_it(
    alice, project: Project, settings, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    snapshot = SnapshotFactory(projects=[project])
    body = {
        "method": "dpo",
        "snapshot": snapshot.pk,
        "base_model": "tiny",
        "lora": {"target_modules": ["q\x00"]},
    }
    response = _api(alice).post("/api/projects/project-a/runs/", body, format="json")
    _refused(response, "lora.target_modules[0]", NUL_REASON)


def test_nul_the_door_cannot_see_is_still_a_400_when_the_database_refuses_it(
    alice, project: Project, settings, tmp_path: Path
) -> None:
    """lora as form-field JSON text: training/serializers.py parses it, past the body parser; the
    exception handler and the pages' error middleware turn the database's refusal into a 400
    (without a field: it no longer knows which)."""
    settings.DATA_DIR = tmp_path
    snapshot = SnapshotFactory(projects=[project])
    lora = json.dumps({"target_modules": ["q\x00"]})
    form = {"method": "dpo", "snapshot": snapshot.pk, "base_model": "tiny", "lora": lora}
    response = _api(alice).post("/api/projects/project-a/runs/", form)
    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["error"]
    page = _web(alice).post("/projects/project-a/runs/new/", form)
    assert page.status_code == 400 and b"NUL" in page.content


# Integers past 64 bits.


@pytest.mark.parametrize("value", [INT_MAX + 1, INT_MIN - 1, 10**30])
def test_an_integer_past_64_bits_is_refused_naming_the_field(
    alice, project: Project, settings, tmp_path: Path, value: int
) -> None:
    settings.DATA_DIR = tmp_path
    snapshot = SnapshotFactory(projects=[project])
    client = _api(alice)
    run = {"method": "dpo", "snapshot": snapshot.pk, "base_model": "tiny", "round": value}
    _refused(client.post("/api/projects/project-a/runs/", run, format="json"), "round", "an integer outside")
    snap = {"name": "s", "split_seed": value}
    _refused(
        client.post("/api/projects/project-a/snapshots/", snap, format="json"), "split_seed", "an integer"
    )


def test_a_number_past_64_bits_as_form_or_query_text_is_refused_naming_the_field(
    alice, project: Project, settings, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    snapshot = SnapshotFactory(projects=[project])
    client = _api(alice)
    form = {"method": "dpo", "snapshot": snapshot.pk, "base_model": "tiny", "round": str(2**64)}
    _refused(client.post("/api/projects/project-a/runs/", form), "round", "an integer outside")
    arena = {"name": "a", "base_models": ["tiny", "tiny-2"], "k": str(2**64), "round": "0"}
    _refused(client.post("/api/projects/project-a/arenas/", arena, format="multipart"), "k", "an integer")
    query = client.get(f"/api/projects/project-a/comparisons/?round={2**64}")
    _refused(query, "round", "an integer outside")


def test_an_integer_past_the_32_bit_column_is_refused_naming_the_field(
    alice, project: Project, settings, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    snapshot = SnapshotFactory(projects=[project])
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(alice)
    snap = {"name": "s", "split_seed": 2**31}
    # Today: 201, and PostgreSQL stores the value wrapped to 32 bits (psycopg's Int4 truncates).
    _refused(client.post("/api/projects/project-a/snapshots/", snap, format="json"), "split_seed", "")
    run = {"method": "dpo", "snapshot": snapshot.pk, "base_model": "tiny", "round": 2**31}
    # Today: 500, the wrapped value is negative and breaks the round >= 0 check constraint.
    _refused(client.post("/api/projects/project-a/runs/", run, format="json"), "round", "")
