from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from lessons import playground
from sandbox import views
from sandbox.forms import LoginForm

# Under /accounts/
account_urls = [
    path("login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
]

# Under /exercises/<id>/ and /attempts/<uuid>/
run_urls = [
    path("exercises/<int:exercise_id>/submit/", views.submit_attempt, name="sb-submit"),
    path("exercises/<int:exercise_id>/preview/", views.preview_prompt, name="sb-preview"),
    path("attempts/<uuid:attempt_id>/", views.attempt_detail, name="sb-attempt"),
    path("playground/", playground.playground, name="sb-playground"),
]

urlpatterns = [
    path("accounts/", include(account_urls)),
    path("admin/", admin.site.urls),
    *run_urls,
    path("teach/", include("lessons.authoring.urls")),
    path("", include("lessons.urls")),
]
