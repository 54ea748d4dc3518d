"""Rankwise: human preference data and RLHF in one web app."""

from rankwise.celery import app as celery_app

__all__ = ("celery_app",)
