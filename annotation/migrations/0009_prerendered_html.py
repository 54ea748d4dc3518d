# Prompts and candidates keep their rendered HTML (annotation.services.prerendering), so that showing an
# item does not render it again. Rows start without it; pages render those themselves until the
# background task has stored theirs.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0008_judgment_tallies'),
    ]

    operations = [
        migrations.AddField(
            model_name='candidate',
            name='html',
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='prompt',
            name='messages_html',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='candidate',
            index=models.Index(condition=models.Q(('html__isnull', True)), fields=['id'], name='candidate_unrendered'),
        ),
        migrations.AddIndex(
            model_name='prompt',
            index=models.Index(condition=models.Q(('messages_html__isnull', True)), fields=['id'], name='prompt_unrendered'),
        ),
    ]
