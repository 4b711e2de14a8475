"""The sample's QStash endpoints: four verified views, a guarded job view, a callback view."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("qstash/function/", views.function_view),
    path("qstash/class/", views.ClassView.as_view()),
    path("qstash/async-function/", views.async_function_view),
    path("qstash/async-class/", views.AsyncClassView.as_view()),
    path("qstash/jobs/", views.job_view),
    path("qstash/callbacks/", views.callback_view),
]
