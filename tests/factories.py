"""factory_boy factories for annotation and training rows."""

from __future__ import annotations

import hashlib

import factory
from django.contrib.auth import get_user_model

from annotation import models
from annotation.services.judging import Answer, answer_parse
from training import models as training_models


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


class SnapshotFactory(factory.django.DjangoModelFactory):
    """A ready snapshot of `projects` (a list; none by default) with no files behind it."""

    class Meta:
        model = training_models.DatasetSnapshot
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"snapshot {n}")
    status = training_models.DatasetSnapshot.Status.READY

    @factory.post_generation
    def projects(self, create: bool, projects: list[models.Project] | None) -> None:
        if create and projects:
            self.projects.set(projects)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A policy (dpo) model version; `reward=True` makes it a reward model."""

    class Meta:
        model = training_models.ModelVersion

    class Params:
        reward = factory.Trait(method=training_models.Method.REWARD, is_reward_model=True)

    name = factory.Sequence(lambda n: f"model-v{n}")
    path = factory.LazyAttribute(lambda o: f"/models/{o.name}")
    method = training_models.Method.DPO
    base = "tiny"


class RunFactory(factory.django.DjangoModelFactory):
    """A queued reward run of a project on a ready snapshot of that project."""

    class Meta:
        model = training_models.Run
        skip_postgeneration_save = True

    project = factory.SubFactory(ProjectFactory)
    method = training_models.Method.REWARD
    base_model = "tiny"
    snapshot = factory.SubFactory(SnapshotFactory)

    @factory.post_generation
    def snapshot_projects(self, create: bool, extracted: object) -> None:
        """The snapshot includes the run's project, as run_launch requires."""
        if create and not self.snapshot.projects.filter(pk=self.project_id).exists():
            self.snapshot.projects.add(self.project)


class GenerationJobFactory(factory.django.DjangoModelFactory):
    """A queued generation job of a base model."""

    class Meta:
        model = training_models.GenerationJob

    project = factory.SubFactory(ProjectFactory)
    source = training_models.GenerationJob.Source.BASE
    base_model = "tiny"


class ScoringJobFactory(factory.django.DjangoModelFactory):
    """A queued scoring job with a reward model version."""

    class Meta:
        model = training_models.ScoringJob

    project = factory.SubFactory(ProjectFactory)
    model_version = factory.SubFactory(ModelVersionFactory, reward=True)


def make_answer(*, project: models.Project, ordering: object, **fields: object) -> Answer:
    """An answer as the doors hand it to the judging services: raw fields through answer_parse
    (which raises ValidationFailed as the doors would answer 400)."""
    return answer_parse({"ordering": ordering, **fields}, project=project)
