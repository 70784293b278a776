from django.urls import path

from . import views

app_name = "library"
urlpatterns = [
    path("", views.saved_tracks, name="saved_tracks"),
]
