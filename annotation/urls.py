"""Annotation pages."""

from django.urls import path

from annotation.views import home, imports, projects

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/", projects.project_manage_list, name="project-manage-list"),
    path("projects/new/", projects.project_create_view, name="project-create"),
    path("projects/<slug:slug>/settings/", projects.project_settings, name="project-settings"),
    path("projects/<slug:slug>/members/", projects.project_member_save, name="project-member-save"),
    path(
        "projects/<slug:slug>/members/<int:user_id>/remove/",
        projects.project_member_remove,
        name="project-member-remove",
    ),
    path("projects/<slug:slug>/import/", imports.project_import, name="project-import"),
]
