"""REST API routes of the annotation app, mounted under /api/."""

from django.urls import path

import annotation.api.schema  # noqa: F401  (registers the OpenAPI descriptions of the plain APIViews)
from annotation.api import annotating, data, projects, review
from annotation.api.export import ProjectExportApi
from annotation.api.imports import ImportCreateApi
from annotation.api.quality import ProjectQualityApi

app_name = "api"

urlpatterns: list = [
    path("projects/", projects.ProjectListApi.as_view(), name="project-list"),
    path("projects/<slug:slug>/", projects.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<slug:slug>/members/", projects.MemberListApi.as_view(), name="member-list"),
    path(
        "projects/<slug:slug>/members/<str:username>/",
        projects.MemberDetailApi.as_view(),
        name="member-detail",
    ),
    path("projects/<slug:slug>/audit/", projects.AuditEventListApi.as_view(), name="audit-list"),
    path("projects/<slug:slug>/comparisons/", data.ComparisonListApi.as_view(), name="comparison-list"),
    path("projects/<slug:slug>/judgments/", data.MyJudgmentListApi.as_view(), name="judgment-list"),
    path(
        "projects/<slug:slug>/demonstrations/",
        data.DemonstrationListApi.as_view(),
        name="demonstration-list",
    ),
    path("projects/<slug:slug>/imports/", ImportCreateApi.as_view(), name="import-create"),
    path("projects/<slug:slug>/export/", ProjectExportApi.as_view(), name="project-export"),
    path("projects/<slug:slug>/next/", annotating.ItemNextApi.as_view(), name="item-next"),
    path("projects/<slug:slug>/submit/", annotating.JudgmentSubmitApi.as_view(), name="judgment-submit"),
    path("projects/<slug:slug>/skip/", annotating.AssignmentSkipApi.as_view(), name="assignment-skip"),
    path(
        "projects/<slug:slug>/judgments/<int:pk>/",
        annotating.JudgmentDetailApi.as_view(),
        name="judgment-detail",
    ),
    path("projects/<slug:slug>/quality/", ProjectQualityApi.as_view(), name="project-quality"),
    path("projects/<slug:slug>/review/", review.ReviewQueueApi.as_view(), name="review-queue"),
    path(
        "projects/<slug:slug>/review/<int:comparison_id>/",
        review.ReviewItemApi.as_view(),
        name="review-item",
    ),
]
