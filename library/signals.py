"""What the library tells other apps."""

from django.dispatch import Signal

# A library's first complete load: the baseline its history starts from (kwargs: user).
# Sent once the load is committed.
library_watched = Signal()
