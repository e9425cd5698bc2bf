from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin

# Pages load only this site's own scripts, styles and fonts: no inline script, no other
# origin, no framing, so model output that slipped past escaping would still not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class RequestGuardMiddleware(MiddlewareMixin):
    def process_view(self, request: HttpRequest, *view: object) -> HttpResponse | None:
        # Before CSRF reads it: a body's files, unlike its fields, have no other cap (to disk).
        length = request.META.get("CONTENT_LENGTH") or ""
        too_large = length.isdecimal() and int(length) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
        return render(request, "413.html", status=413) if too_large else None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        patch_vary_headers(response, ["HX-Request"])  # htmx gets a part of the page at its URL
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
