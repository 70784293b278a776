"""The library's tasks, run by `manage.py worker` (see `background` for what they do)."""

from django_tasks import task

from . import background, restores


@task()
def load_library(user_id: int, attempt: int = 0) -> str:
    """Load a user's library from Spotify, a few batches at a time."""
    outcome = background.load_run(user_id=user_id, attempt=attempt)
    background.logger.info("Task load_library for user %s: %s", user_id, outcome)
    return outcome


@task()
def check_library(user_id: int) -> str:
    """Check a user's stored library with Spotify, as a visit after LIBRARY_FRESH_FOR does."""
    outcome = background.check_run(user_id=user_id)
    background.logger.info("Task check_library for user %s: %s", user_id, outcome)
    return outcome


@task()
def restore_songs(restore_id: int, attempt: int = 0) -> str:
    """Save a restore's songs to the user's Liked Songs, a few batches at a time."""
    outcome = restores.run_task(restore_id=restore_id, attempt=attempt)
    background.logger.info("Task restore_songs for restore %s: %s", restore_id, outcome)
    return outcome
