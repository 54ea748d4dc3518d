"""rankwise.rows: model instances from hand-written SQL, converted as the ORM converts them."""

from __future__ import annotations

import pytest

from annotation.models import Assignment, Comparison, Project
from annotation.services.assigning import comparison_lease
from rankwise import rows
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_comparison

pytestmark = pytest.mark.django_db


def _values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_instances_equal_what_the_orm_loads_field_by_field_with_the_further_columns_after() -> None:
    project = ProjectFactory(rating_criteria=["helpfulness", "honesty"], asks_demonstrations=True)
    alice = UserFactory(password=None)
    MembershipFactory(project=project, user=alice)
    make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=alice)

    [(found, extra)] = rows.instances(
        Assignment,
        f"SELECT {rows.columns(Assignment, 'a')}, c.project_id, 'x' FROM {Assignment._meta.db_table} a"
        f" JOIN {Comparison._meta.db_table} c ON c.id = a.comparison_id WHERE a.id = %s",
        [lease.pk],
    )
    assert _values(found) == _values(Assignment.objects.get(pk=lease.pk))
    assert isinstance(found.presented_order, list) and found.expires_at.tzinfo is not None
    assert extra == (project.pk, "x") and not found._state.adding

    [(loaded, ())] = rows.instances(
        Project,
        f"SELECT {rows.columns(Project, 'p')} FROM {Project._meta.db_table} p WHERE p.id = %s",
        [project.pk],
    )
    assert _values(loaded) == _values(Project.objects.get(pk=project.pk))
    assert loaded.rating_criteria == ["helpfulness", "honesty"] and loaded.asks_demonstrations is True


def test_no_rows_give_an_empty_list() -> None:
    assert (
        rows.instances(Project, f"SELECT {rows.columns(Project, 'p')} FROM {Project._meta.db_table} p", [])
        == []
    )
