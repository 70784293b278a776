from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import services


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("library:saved_tracks")
    return render(request, "library/home.html")


@login_required
def saved_tracks(request: HttpRequest) -> HttpResponse:
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    page = services.saved_tracks_page(user=request.user, number=number)
    if number > page.num_pages:
        return redirect(f"{request.path}?page={page.num_pages}")
    return render(request, "library/saved_tracks.html", {"page": page})
