from django.dispatch import Signal

# Sent with `user` after a user disconnects Spotify: whatever holds data Spotify gave us
# about that user deletes it (Spotify's developer policy).
spotify_disconnected = Signal()
