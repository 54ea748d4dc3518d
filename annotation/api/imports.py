"""POST /api/projects/<slug>/imports/: upload a JSONL file into a project (project admins)."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import ImportBatch, Membership
from annotation.permissions import ProjectApi
from annotation.services.import_formats import FORMATS
from annotation.services.importing import data_import, upload_size_check
from rankwise.api.parsers import FormParser, MultiPartParser


class ImportCreateApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=FORMATS, default="auto")
        as_judgments = serializers.BooleanField(default=False)

    class OutputSerializer(serializers.ModelSerializer):
        already_imported = serializers.BooleanField()

        class Meta:
            model = ImportBatch
            fields = [
                "id",
                "file_name",
                "file_sha256",
                "format",
                "lines",
                "prompts_created",
                "candidates_created",
                "comparisons_created",
                "judgments_created",
                "created_at",
                "already_imported",
            ]

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        # Refuse an oversized body before reading it; the multipart framing adds a little.
        upload_size_check(size=int(request.META.get("CONTENT_LENGTH") or 0) - 64 * 1024)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        upload_size_check(size=upload.size)
        # Large uploads are already on disk (FILE_UPLOAD_MAX_MEMORY_SIZE); the service streams them.
        batch = data_import(
            project=project,
            file=upload,
            file_name=upload.name or "upload.jsonl",
            format=serializer.validated_data["format"],
            as_judgments=serializer.validated_data["as_judgments"],
            created_by=request.user,
        )
        return Response(
            self.OutputSerializer(batch).data,
            status=status.HTTP_200_OK if batch.already_imported else status.HTTP_201_CREATED,
        )
