from django.dispatch import Signal

# Sent with `user` after a user disconnects Spotify: whatever holds data Spotify gave us
# about that user deletes it (Spotify's developer policy).
spotify_disconnected = Signal()

# Sent with `user` once a sign-in has stored a user's grant: whoever works on what
# Spotify holds for that user (the library's load) may start now.
spotify_connected = Signal()
