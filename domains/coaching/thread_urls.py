from django.urls import path

app_name = "coach"

urlpatterns: list = []
