"""Running the project's migrations to a point and back, for the tests of a data
migration: `migrate` to a state (its models returned, as a migration sees them), and
`latest_schema_afterwards`, a fixture that leaves the database at the latest migration
for the tests after it."""

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(target: tuple[str, str]) -> Apps:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def latest_schema_afterwards(transactional_db):
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
