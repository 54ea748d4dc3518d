"""Settings for bench/annotation_load.py only: the product's settings plus a bare baseline view.

The baseline lives in bench/load_urls.py so that it never becomes one of the product's routes.
"""

from rankwise.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
