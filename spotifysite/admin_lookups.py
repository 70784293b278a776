"""Admin pages that answer only the questions they offer.

Django's changelist turns any querystring parameter naming a field of the model into a
database lookup (`?loaded_pages__a%25b__range=1,2`), checked only against relations
that are not filtered. Some reach the database and fail there: a JSON key lookup that
Django before 5.2.20 compiles with the wrong number of parameters, a regex SQLite
cannot compile, a NUL byte PostgreSQL refuses. So anyone with the view permission could
turn a URL into a server error, or probe fields the page never shows. `StrictModelAdmin`
allows only the parameters its own filters and date hierarchy read; anything else, and
a key that no row can have, is a bad request (400), as is a filter the database refuses.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin import FieldListFilter, SimpleListFilter, helpers
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import BadRequest, ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import SimpleTemplateResponse


def can_be_key(field: Field, value: str) -> bool:
    """Whether a row could have `value` in `field`. SQLite cannot even bind an integer
    past 64 bits (OverflowError, a 500), and Django checks that only for plain integer
    fields, not for a key that is a relation (LibrarySync's is the user's id)."""
    target = getattr(field, "target_field", field)
    if "\x00" in value:
        return False
    try:
        target.run_validators(target.to_python(value))
    except ValidationError:
        return False
    return True


class StrictModelAdmin(admin.ModelAdmin):
    """The base of every ModelAdmin of ours (see the module docstring)."""

    def offered_lookups(self, request: HttpRequest | None) -> set[str]:
        """The querystring parameters this changelist's filters and date hierarchy read."""
        offered: set[str] = set()
        if self.date_hierarchy:
            offered |= {f"{self.date_hierarchy}__{part}" for part in ("year", "month", "day")}
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                offered.add(item.parameter_name)
                continue
            path, filter_class = item if isinstance(item, list | tuple) else (item, FieldListFilter.create)
            if not isinstance(path, Field):
                field = get_fields_from_path(self.model, path)[-1]
            else:
                field, path = path, None
            # A filter knows its own parameters (`token_type`, `token_type__isnull`, ...);
            # built with no parameters it filters nothing.
            spec = filter_class(field, request, {}, self.model, self, field_path=path)
            offered.update(spec.expected_parameters())
        return offered

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # False makes the changelist raise DisallowedModelAdminLookup: a 400.
        return "\x00" not in value and lookup in self.offered_lookups(request)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Model | None:
        field = self.opts.get_field(from_field) if from_field else self.opts.pk
        if not can_be_key(field, object_id):
            return None  # the admin's own "does not exist" answer
        return super().get_object(request, object_id, from_field)

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        # Django filters by the selected keys unchecked: "abc" is a ValueError, a 500.
        if not all(can_be_key(self.opts.pk, pk) for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            raise BadRequest("Selected objects must be given by their keys.")
        return super().response_action(request, queryset)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The last line behind `lookup_allowed`: a filter or search the database refuses
        is the querystring's fault, not the server's. Rendered here, since the rows are
        read while the template renders. A database that is away (OperationalError,
        InterfaceError) stays the site's 503, and a plain changelist that fails a bug."""
        try:
            response = super().changelist_view(request, extra_context)
            if isinstance(response, SimpleTemplateResponse):
                response.render()
        except DatabaseError as exc:
            if isinstance(exc, OperationalError | InterfaceError) or not request.GET:
                raise
            raise DisallowedModelAdminLookup(f"The database refused this changelist's query: {exc}") from exc
        return response


class ReadOnlyModelAdmin(StrictModelAdmin):
    """Rows an administrator inspects but never adds, edits or deletes by hand: they are
    written by the site's own services (actions, where offered, go through those)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
