"""Projects, their members and their audit trail over the REST API.

Members see their projects; only admins change settings, roles and membership, and read the
audit trail. Every door asks annotation.permissions and calls one service or selector.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import AuditEvent, Membership, Project
from annotation.permissions import ProjectApi, project_role
from annotation.selectors import annotating as selectors
from annotation.selectors import data as api_selectors
from annotation.selectors import projects as project_selectors
from annotation.services.projects import (
    SETTINGS_FIELDS,
    membership_attributes_check,
    membership_attributes_set,
    membership_remove,
    membership_set,
    project_update,
)
from rankwise.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from rankwise.api.schema import ERRORS
from rankwise.errors import NotFound


class ProjectOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["slug", "name", "role", "created_at", *SETTINGS_FIELDS]

    def get_role(self, project: Project) -> str | None:
        return project_role(user=self.context["user"], project=project)


class ProjectUpdateInput(serializers.Serializer):
    """Any of the project settings; the projects service checks them together."""

    name = serializers.CharField(max_length=200, required=False)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    mode = serializers.ChoiceField(choices=Project.Mode.choices, required=False)
    pairing = serializers.ChoiceField(choices=Project.Pairing.choices, required=False)
    candidates_per_comparison = serializers.IntegerField(min_value=2, max_value=4, required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    rating_criteria = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    rating_scale_max = serializers.IntegerField(min_value=2, max_value=100, required=False)
    asks_demonstrations = serializers.BooleanField(required=False)
    hides_model_names = serializers.BooleanField(required=False)
    lease_minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60, required=False)
    edit_window_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, required=False)
    gold_rate = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    # Quality thresholds (docs/quality.md); the model's validators are the bounds.
    min_items = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    min_consensus_agreement = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    min_gold_accuracy = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    min_gold_pairs = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    bias_p_value = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    min_bias_effect = serializers.FloatField(min_value=0.0, max_value=0.5, required=False)
    min_median_seconds = serializers.FloatField(min_value=0.0, max_value=3600.0, required=False)
    review_min_agreement = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    queue_order = serializers.ChoiceField(choices=Project.QueueOrder.choices, required=False)
    queue_model_version = serializers.PrimaryKeyRelatedField(
        queryset=Project.queue_model_version.field.related_model.objects.filter(is_reward_model=True),
        allow_null=True,
        required=False,
    )


class ProjectListApi(APIView):
    @extend_schema(
        operation_id="projects_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(ProjectOutput, "Project")},
    )
    def get(self, request: Request) -> Response:
        """The projects I belong to, with my role in each."""
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.project_list_for_user(user=request.user),
            serializer=ProjectOutput,
            context={"user": request.user},
        )


class ProjectDetailApi(ProjectApi):
    project_roles = {"GET": Membership.Role.ANNOTATOR, "PATCH": Membership.Role.ADMIN}

    @extend_schema(responses={200: ProjectOutput, **ERRORS})
    def get(self, request: Request, slug: str) -> Response:
        """One of my projects."""
        project = self.project
        return Response(ProjectOutput(project, context={"user": request.user}).data)

    @extend_schema(request=ProjectUpdateInput, responses={200: ProjectOutput, **ERRORS})
    def patch(self, request: Request, slug: str) -> Response:
        """Change project settings (admins); shape settings are fixed once comparisons exist (409). A new
        queue order (or its reward model) recomputes the comparisons' priorities at once."""
        project = self.project
        data = ProjectUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_update(project=project, actor=request.user, **data.validated_data)
        return Response(ProjectOutput(project, context={"user": request.user}).data)


class MemberOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    attributes = serializers.DictField(child=serializers.CharField(), help_text="e.g. language, expertise")

    class Meta:
        model = Membership
        fields = ["username", "role", "attributes", "created_at"]


_ATTRIBUTES_HELP = "key → value labels (language, expertise, ...); replaces the member's attributes"


class MemberAddInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    attributes = serializers.DictField(required=False, help_text=_ATTRIBUTES_HELP)


class MemberUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    attributes = serializers.DictField(required=False, help_text=_ATTRIBUTES_HELP)


def _user(username: str) -> AbstractBaseUser:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"No user {username!r}.")
    return user


class MemberListApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    @extend_schema(responses={200: MemberOutput(many=True), **ERRORS})
    def get(self, request: Request, slug: str) -> Response:
        """The project's members and roles (admins)."""
        project = self.project
        return Response(MemberOutput(project_selectors.membership_list(project=project), many=True).data)

    @extend_schema(request=MemberAddInput, responses={201: MemberOutput, **ERRORS})
    def post(self, request: Request, slug: str) -> Response:
        """Add an existing user with a role, or change the role of a member (admins)."""
        project = self.project
        data = MemberAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = _user(data.validated_data["username"])
        membership = _member_change(request, project, user, data.validated_data)
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)


def _member_change(request: Request, project: Project, user: AbstractBaseUser, changes: dict) -> Membership:
    """Sets the role and/or attributes given, each audited when it changed, in one transaction:
    a bad attribute, a refused role or a failed audit write changes nothing."""
    attributes = changes.get("attributes")
    if attributes is not None:
        membership_attributes_check(attributes=attributes)
    membership = None
    with transaction.atomic():
        if "role" in changes:
            membership = membership_set(actor=request.user, project=project, user=user, role=changes["role"])
        if attributes is not None:
            membership = membership_attributes_set(
                actor=request.user, project=project, user=user, attributes=attributes
            )
    if membership is None:
        membership = project_selectors.membership_list(project=project).get(user=user)
    return membership


class MemberDetailApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def _membership(self, request: Request, slug: str, username: str) -> tuple[Project, Membership]:
        project = self.project
        membership = (
            project_selectors.membership_list(project=project).filter(user__username=username).first()
        )
        if membership is None:
            raise NotFound(f"{username!r} is not a member of this project.")
        return project, membership

    @extend_schema(responses={200: MemberOutput, **ERRORS})
    def get(self, request: Request, slug: str, username: str) -> Response:
        _project, membership = self._membership(request, slug, username)
        return Response(MemberOutput(membership).data)

    @extend_schema(request=MemberUpdateInput, responses={200: MemberOutput, **ERRORS})
    def patch(self, request: Request, slug: str, username: str) -> Response:
        """Change a member's role or attributes; the last admin cannot be demoted (409)."""
        project, membership = self._membership(request, slug, username)
        data = MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = _member_change(request, project, membership.user, data.validated_data)
        return Response(MemberOutput(membership).data)

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request: Request, slug: str, username: str) -> Response:
        """Remove a member (their judgments stay); the last admin cannot be removed (409)."""
        project, membership = self._membership(request, slug, username)
        membership_remove(actor=request.user, project=project, user=membership.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "action", "target", "details"]


class AuditEventListApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    @extend_schema(
        parameters=[OpenApiParameter("action", str, enum=AuditEvent.Action.values), *PAGE_PARAMETERS],
        responses={200: page_of(AuditEventOutput, "AuditEvent"), **ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        """The project's audit trail, newest first (admins)."""
        project = self.project
        events = api_selectors.audit_event_list(
            project=project, action=request.query_params.get("action", "")
        )
        return paginated_response(request=request, view=self, queryset=events, serializer=AuditEventOutput)
