from django.urls import path

from . import views

app_name = "library"
urlpatterns = [
    path("", views.saved_tracks, name="saved_tracks"),
    path("load/", views.load, name="load"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export-excel.csv", views.export_excel, name="export_excel"),
    path("export.json", views.export_json, name="export_json"),
]
