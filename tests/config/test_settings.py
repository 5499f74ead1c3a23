"""Settings: where each value comes from, validation messages, and no secret in sight."""

import pytest

from commbox_core.config.settings import load_settings
from commbox_core.errors import ConfigError

KEY = "live-key-0123456789abcdef"


def test_layers_env_beats_secrets_beats_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("COMMBOX_BRAND=from-dotenv\nCOMMBOX_CONCURRENCY=3\nCOMMBOX_CHANNEL_ID=dot\n")
    secrets = {"COMMBOX_CONCURRENCY": "5", "commbox": {"channel_id": "from-secrets"}}
    settings = load_settings(environ={"COMMBOX_CONCURRENCY": "7"}, dotenv_path=dotenv, secrets=secrets)
    assert (settings.brand, settings.concurrency, settings.channel_id) == ("from-dotenv", 7, "from-secrets")
    assert settings.sources == {"brand": ".env", "concurrency": "environment", "channel_id": "secrets"}


def test_no_key_means_not_live_and_a_key_means_the_production_api():
    assert load_settings(environ={}, dotenv_path=None).mode == "unconfigured"
    live = load_settings(environ={"COMMBOX_API_KEY": KEY}, dotenv_path=None)
    assert live.is_live and live.api_url == "https://api.commbox.io"


def test_key_never_shows_in_repr_or_describe():
    settings = load_settings(environ={"COMMBOX_API_KEY": KEY}, dotenv_path=None)
    shown = repr(settings) + str(settings.describe()) + str(settings.model_dump())
    assert KEY not in shown
    key_row = next(r for r in settings.describe() if r["setting"] == "api_key")
    assert key_row["value"] == "liv…ef" and key_row["source"] == "environment"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COMMBOX_API_URL": "ftp://x"}, "COMMBOX_API_URL"),
        ({"COMMBOX_CHAT_URL": "javascript:alert(1)"}, "COMMBOX_CHAT_URL"),
        ({"COMMBOX_CONCURRENCY": "many"}, "COMMBOX_CONCURRENCY"),
        ({"COMMBOX_CONCURRENCY": "0"}, "COMMBOX_CONCURRENCY"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env, dotenv_path=None)


def test_invalid_key_is_not_echoed():
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"COMMBOX_API_KEY": KEY, "COMMBOX_MAX_ROWS": "-1"}, dotenv_path=None)
    assert KEY not in str(caught.value)


def test_sandbox_copy_points_everything_at_the_sandbox():
    settings = load_settings(environ={}, dotenv_path=None).for_sandbox("http://127.0.0.1:9999", "k")
    assert settings.mode == "sandbox" and not settings.is_live
    assert settings.login_url == "http://127.0.0.1:9999/login" and settings.chat_url == "http://127.0.0.1:9999"
    assert settings.brand == "demo" and settings.channel_id
