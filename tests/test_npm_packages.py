"""Tests that need the npm packages say how to install them instead of showing a traceback."""

import pytest

from tests import openapi

pytestmark = pytest.mark.no_sandbox


@pytest.mark.parametrize("missing", ["SPEC_PATH", "PRISM"])
def test_a_missing_npm_package_fails_with_one_sentence_naming_npm_ci(monkeypatch, tmp_path, missing):
    monkeypatch.setattr(openapi, missing, tmp_path / "not-installed")

    with pytest.raises(pytest.fail.Exception) as failure:
        openapi.require_node_modules()

    assert "run `npm ci`" in str(failure.value)
    assert failure.value.pytrace is False, "the sentence must be shown without a traceback"


def test_installed_npm_packages_pass():
    openapi.require_node_modules()
