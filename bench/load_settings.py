"""Settings for bench/annotation_load.py only: the product's settings plus the bench's own views.

The baselines and the floor live in bench/load_urls.py so that they never become product routes.
"""

from rankwise.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
