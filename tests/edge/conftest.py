"""The control plane with a broker, for the edge tests that go through it."""

from tests.cloud.conftest import broker_cloud  # noqa: F401 - shared fixture
