"""factory_boy factories for annotation rows."""

from __future__ import annotations

import hashlib

import factory
from django.contrib.auth import get_user_model

from annotation import models
from annotation.services.judging import Answer, answer_parse


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("password")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = models.Membership.Role.ANNOTATOR


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Prompt

    project = factory.SubFactory(ProjectFactory)
    messages = factory.Sequence(lambda n: [{"role": "user", "content": f"Question number {n}?"}])
    content_hash = factory.LazyAttribute(lambda o: _sha(repr(o.messages)))


class CandidateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Candidate

    prompt = factory.SubFactory(PromptFactory)
    text = factory.Sequence(lambda n: f"Answer number {n}.")
    model_name = "model-a"
    content_hash = factory.LazyAttribute(lambda o: _sha(o.text))


def make_comparison(
    *, project: models.Project | None = None, candidates: int = 2, **fields: object
) -> models.Comparison:
    """A comparison of a fresh prompt with `candidates` fresh candidates, in slot order."""
    project = project or ProjectFactory()
    prompt = PromptFactory(project=project)
    cands = [CandidateFactory(prompt=prompt, model_name=f"model-{i}") for i in range(candidates)]
    comparison = models.Comparison.objects.create(
        project=project, prompt=prompt, key=_sha(",".join(str(c.pk) for c in cands)), **fields
    )
    models.ComparisonCandidate.objects.bulk_create(
        models.ComparisonCandidate(comparison=comparison, candidate=c, position=i)
        for i, c in enumerate(cands)
    )
    return comparison


def make_answer(*, project: models.Project, ordering: object, **fields: object) -> Answer:
    """An answer as the doors hand it to the judging services: raw fields through answer_parse
    (which raises ValidationFailed as the doors would answer 400)."""
    return answer_parse({"ordering": ordering, **fields}, project=project)
