from django.urls import path

from . import duplicates_views, history_views, restore_views, stats_views, views

app_name = "library"
urlpatterns = [
    path("", views.saved_tracks, name="saved_tracks"),
    path("load/", views.load, name="load"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export-excel.csv", views.export_excel, name="export_excel"),
    path("export.json", views.export_json, name="export_json"),
    path("stats/", stats_views.stats, name="stats"),
    path("duplicates/", duplicates_views.duplicates, name="duplicates"),
    path("changes/", history_views.changes, name="changes"),
    path("changes.csv", history_views.changes_csv, name="changes_csv"),
    path("changes.json", history_views.changes_json, name="changes_json"),
    path("changes/clear/", history_views.changes_clear, name="changes_clear"),
    path("changes/dismiss/", history_views.notice_dismiss, name="notice_dismiss"),
    path("changes/save/", restore_views.save_again, name="save_again"),
    path("restore/", restore_views.upload, name="restore_upload"),
    path("restores/<int:pk>/", restore_views.restore, name="restore"),
    path("restores/<int:pk>/progress/", restore_views.restore_progress, name="restore_progress"),
]
