from django.contrib import admin

from realtime.models import Stream, StreamEvent


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = ["key", "last_seq", "updated_at"]
    search_fields = ["key"]
    readonly_fields = ["key", "last_seq", "created_at", "updated_at"]


@admin.register(StreamEvent)
class StreamEventAdmin(admin.ModelAdmin):
    list_display = ["stream", "seq", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["stream__key"]
    readonly_fields = ["stream", "seq", "type", "payload", "created_at"]
