"""Settings are imported in a fresh process with a controlled environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

KEY = "sk-mavi-test-SECRET-1234"


def documented_production_environment(secrets_dir):
    """The environment docs/deploying.md documents, its secret files written here."""
    readme = (REPO / "docs" / "deploying.md").read_text()
    block = readme.split("A production environment, as `manage.py check --deploy", 1)[1]
    block = block.split("```sh\n", 1)[1].split("```", 1)[0]
    env = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    contents = {
        "SECRET_KEY_FILE": "a-long-random-secret-for-the-deploy-check-0123456789-abcdefghijk\n",
        "MEMORIES_API_KEY_FILE": KEY + "\n",
        "FIELD_ENCRYPTION_KEY_FILE": "a-long-random-field-encryption-key-0123456789\n",
        "EMAIL_URL_FILE": "smtp://portal:mail-password@mail.example.com:587\n",
    }
    for name in [name for name in env if name.endswith("_FILE")]:
        env[name] = str(secrets_dir / name.lower())
        Path(env[name]).write_text(contents[name])
    return env


def run_python(code, env, *args):
    """Run code (or manage.py with args) with only `env` and no .env file."""
    environment = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "/nonexistent/.env",
        "DJANGO_SETTINGS_MODULE": "memories_portal.settings",
        **env,
    }
    argv = [sys.executable, *args] if args else [sys.executable, "-c", code]
    return subprocess.run(
        argv, cwd=REPO, env=environment, capture_output=True, text=True, timeout=60
    )


def import_settings(env, show="SECRET_KEY"):
    return run_python(
        "import hashlib\n"
        "from memories_portal import settings\n"
        f"print(hashlib.sha256(str(settings.{show}).encode()).hexdigest())",
        env,
    )


def sha(text):
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def error_line(result):
    assert result.returncode != 0
    prefix = "django.core.exceptions.ImproperlyConfigured: "
    lines = [line for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_without_debug_it_names_everything_missing_in_one_message():
    line = error_line(import_settings({}))
    assert "SECRET_KEY" in line
    assert "ALLOWED_HOSTS" in line
    assert "MEMORIES_API_KEY" in line


def test_it_names_only_what_is_missing():
    line = error_line(import_settings({"SECRET_KEY": "x" * 50}))
    assert "SECRET_KEY" not in line.replace("SECRET_KEY_FILE", "")
    assert "ALLOWED_HOSTS" in line and "MEMORIES_API_KEY" in line


def test_the_sandbox_chosen_explicitly_needs_no_api_key():
    result = import_settings(
        {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "portal.example.com", "MEMORIES_SANDBOX": "1"}
    )
    assert result.returncode == 0, result.stderr


def test_with_everything_set_it_starts():
    result = import_settings(
        {
            "SECRET_KEY": "s" * 50,
            "ALLOWED_HOSTS": "portal.example.com",
            "MEMORIES_API_KEY": KEY,
            "FIELD_ENCRYPTION_KEY": "f" * 40,
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sha("s" * 50)


def test_production_refuses_to_start_without_the_field_encryption_key():
    env = {"SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "portal.example.com", "MEMORIES_API_KEY": KEY}
    assert "FIELD_ENCRYPTION_KEY" in error_line(import_settings(env))


def test_the_field_encryption_key_may_come_from_a_file_and_lists_keys_for_rotation(tmp_path):
    (tmp_path / "field_key").write_text("new-key-0123456789, old-key-0123456789\n")
    env = {
        "SECRET_KEY": "s" * 50,
        "ALLOWED_HOSTS": "portal.example.com",
        "MEMORIES_API_KEY": KEY,
        "FIELD_ENCRYPTION_KEY_FILE": str(tmp_path / "field_key"),
    }
    result = import_settings(env, show="SALT_KEY")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sha(str(["new-key-0123456789", "old-key-0123456789"]))


def test_debug_needs_nothing():
    assert import_settings({"DEBUG": "1"}).returncode == 0


def test_secrets_can_come_from_files(tmp_path):
    (tmp_path / "secret_key").write_text("k" * 60 + "\n")
    (tmp_path / "api_key").write_text(KEY + "\n")
    env = {
        "SECRET_KEY_FILE": str(tmp_path / "secret_key"),
        "MEMORIES_API_KEY_FILE": str(tmp_path / "api_key"),
        "ALLOWED_HOSTS": "portal.example.com",
        "FIELD_ENCRYPTION_KEY": "f" * 40,
    }
    result = import_settings(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sha("k" * 60)  # the trailing newline is not part of it
    assert import_settings(env, show="MEMORIES_API_KEY").stdout.strip() == sha(KEY)


def test_a_secret_file_that_cannot_be_read_is_named(tmp_path):
    env = {
        "SECRET_KEY_FILE": str(tmp_path / "nowhere"),
        "ALLOWED_HOSTS": "portal.example.com",
        "MEMORIES_API_KEY": KEY,
    }
    line = error_line(import_settings(env))
    assert "SECRET_KEY_FILE" in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXIES", "10.0.0.2,proxy.local"),
        ("LOG_FORMAT", "xml"),
        ("METRICS_ALLOWED_IPS", "10.0.0.0/8,prometheus.local"),
        ("METRICS_TOKEN", "short"),
        ("HEALTH_MAX_HEARTBEAT_AGE_SECONDS", "10"),
    ],
)
def test_malformed_values_are_refused(name, value):
    env = {"DEBUG": "1", name: value}
    assert name in error_line(import_settings(env))


@pytest.mark.parametrize(
    "deadlines",
    [{"WEBHOOK_DEADLINE": "120"}, {"EMAIL_DEADLINE": "130"}, {"NOTIFY_LEASE_SECONDS": "60"}],
)
def test_a_notification_lease_not_longer_than_a_deadline_is_refused(deadlines):
    line = error_line(import_settings({"DEBUG": "1", **deadlines}))
    assert "NOTIFY_LEASE_SECONDS" in line and "sent again" in line


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path):
    env = documented_production_environment(tmp_path)
    assert {"SECRET_KEY_FILE", "MEMORIES_API_KEY_FILE", "BEHIND_TLS_PROXY"} <= set(env)
    result = run_python(None, env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert KEY not in result.stdout + result.stderr


def test_check_deploy_fails_without_tls_behind_the_proxy(tmp_path):
    env = {**documented_production_environment(tmp_path), "BEHIND_TLS_PROXY": "0"}
    result = run_python(None, env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"OIDC_ISSUER": "https://sso.example.com"}, "go together"),
        ({"OIDC_ONLY": "1"}, "OIDC_ONLY=1 needs"),
    ],
)
def test_a_half_configured_sign_in_is_refused(env, said):
    assert said in error_line(import_settings({"DEBUG": "1", **env}))


def test_the_sign_in_is_configured_from_the_environment_its_secret_from_a_file(tmp_path):
    (tmp_path / "oidc").write_text("the-client-secret\n")
    env = {
        "DEBUG": "1",
        "OIDC_ISSUER": "https://sso.example.com/realms/staff/",
        "OIDC_CLIENT_ID": "portal",
        "OIDC_CLIENT_SECRET_FILE": str(tmp_path / "oidc"),
    }
    result = run_python(
        "from memories_portal import settings as s\n"
        "app = s.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS'][0]\n"
        "print(app['secret'], app['settings']['server_url'], s.SECURE_CSP['form-action'][-1])",
        env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "the-client-secret", "https://sso.example.com/realms/staff", "https://sso.example.com",
    ]  # fmt: skip


def test_without_an_issuer_there_is_no_sign_in_with_a_provider():
    result = run_python(
        "from memories_portal import settings as s\n"
        "print(s.OIDC_ENABLED, s.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS'])",
        {"DEBUG": "1"},
    )
    assert result.stdout.split() == ["False", "[]"]
