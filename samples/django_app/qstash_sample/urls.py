"""The sample's four QStash endpoints."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("qstash/function/", views.function_view),
    path("qstash/class/", views.ClassView.as_view()),
    path("qstash/async-function/", views.async_function_view),
    path("qstash/async-class/", views.AsyncClassView.as_view()),
]
