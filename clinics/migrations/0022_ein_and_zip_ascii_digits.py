"""The EIN and the ZIP code take ASCII digits only (Python's \\d matches every script's digits)."""

import django.core.validators
from django.db import migrations, models

import clinics.sealed


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0021_businessprofile_ein_sealed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="businessprofile",
            name="ein",
            field=clinics.sealed.SealedTextField(
                validators=[
                    django.core.validators.RegexValidator(
                        "^[0-9]{2}-?[0-9]{7}$", "Enter the EIN as 9 digits (0-9), e.g. 12-3456789.", code="ein"
                    )
                ],
                verbose_name="EIN",
            ),
        ),
        migrations.AlterField(
            model_name="businessprofile",
            name="postal_code",
            field=models.CharField(
                max_length=10,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[0-9]{5}(-[0-9]{4})?$", "Enter a US ZIP code of digits 0-9, e.g. 78701.", code="zip"
                    )
                ],
            ),
        ),
    ]
