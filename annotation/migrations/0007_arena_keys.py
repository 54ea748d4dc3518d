# Arena battles get keys of their own (annotation.services.importing.comparison_key with arena=True),
# so that an arena never reuses, nor hides from exports, a regular comparison of the same pair.

import hashlib

from django.db import migrations


def _arena_keys(apps, schema_editor):
    Comparison = apps.get_model("annotation", "Comparison")
    ComparisonCandidate = apps.get_model("annotation", "ComparisonCandidate")
    members: dict[int, list[int]] = {}
    slots = ComparisonCandidate.objects.filter(comparison__arena=True).values_list("comparison_id", "candidate_id")
    for comparison_id, candidate_id in slots.iterator():
        members.setdefault(comparison_id, []).append(candidate_id)
    for comparison_id, ids in members.items():
        text = "arena:" + ",".join(str(i) for i in sorted(ids))
        Comparison.objects.filter(pk=comparison_id).update(key=hashlib.sha256(text.encode()).hexdigest())


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_queue_order")]

    operations = [migrations.RunPython(_arena_keys, migrations.RunPython.noop)]
