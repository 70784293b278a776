from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login, name="login"),
    path("callback/", views.callback, name="callback"),
    path("reconnect/", views.reconnect, name="reconnect"),
    path("grant/", views.grant, name="grant"),
    path("logout/", views.logout, name="logout"),
    path("disconnect/", views.disconnect, name="disconnect"),
]
